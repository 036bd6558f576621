"""``python -m trio_smartmeter.sim`` = ``trio-smartmeter simulate``."""

import sys

from .cli import simulate_main

raise SystemExit(simulate_main(sys.argv[1:]))
