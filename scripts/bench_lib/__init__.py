"""Helpers for scripts/bench.py (not part of the installed package).

The bench shares tests/support with the test suites (one ``free_port``), and like the
tests it runs from a checkout: the checkout's root goes on ``sys.path``.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
