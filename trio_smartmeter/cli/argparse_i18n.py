"""argparse's own words ("usage:", "options", its errors) in the user's language.

argparse translates them with ``gettext.gettext``, the process-wide ``messages`` domain,
which has no Japanese catalog. Rather than bind that global domain to ours
(``gettext.textdomain``: every library's ``gettext()`` would then read our catalog, under
gettext's own locale rules, not :func:`trio_smartmeter.i18n.languages_from_environ`'s),
argparse alone is pointed at our catalog: its module-level ``_`` and ``ngettext``, the names
it looks up each time it shows a word. The msgids it uses are marked below, so the
extraction keeps them in our catalog like any other message.
"""

from __future__ import annotations

import argparse
from typing import Final

from trio_smartmeter.i18n import N_, _, ngettext

__all__ = ["ARGPARSE_MESSAGES", "localize_argparse"]

#: The words of argparse (Python 3.11-3.13) our parsers can show, as argparse spells them.
ARGPARSE_MESSAGES: Final = (
    N_("usage: "),
    N_("options"),
    N_("positional arguments"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("ignored explicit argument %r"),
)


def localize_argparse() -> None:
    """Make argparse show its words in the process's language (idempotent)."""
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
