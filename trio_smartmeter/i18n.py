"""Messages in the user's language: gettext catalogs chosen by the locale.

A leaf beside ``_version.py`` (standard library only) because every edge shows messages:
``cli`` (``--help``, configuration errors, the tools' output), ``service`` (the few log
lines a user must act on) and ``web`` (the status page, by ``Accept-Language``). The core
marks its messages with :func:`trio_smartmeter.core.translatable.N_` and never imports
this module.

The catalogs are ``locale/<lang>/LC_MESSAGES/trio_smartmeter.mo`` inside the package,
compiled from the committed ``.po`` files when the package is built (``setup.py``); an
installation without them shows the English messages, never fails.
"""

from __future__ import annotations

import functools
import gettext
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from trio_smartmeter.core.translatable import N_

__all__ = [
    "DOMAIN",
    "LOCALE_DIR",
    "N_",
    "_",
    "languages_from_environ",
    "ngettext",
    "process_translation",
    "translation",
]

DOMAIN: Final = "trio_smartmeter"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"

#: The locale names that mean "no translation" (POSIX).
_NEUTRAL: Final = frozenset({"", "C", "POSIX"})


def languages_from_environ(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The languages to look for, most preferred first, as gettext's GNU rules read them.

    The messages' locale is the first non-empty of ``LC_ALL``, ``LC_MESSAGES`` and
    ``LANG`` (``ja_JP.UTF-8`` → Japanese). ``C``/``POSIX``/unset mean English, whatever
    ``LANGUAGE`` says; otherwise ``LANGUAGE`` (``ja:en``) comes first, as in GNU gettext.
    """
    locale = next((environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)), "")
    if locale.partition(".")[0].partition("@")[0] in _NEUTRAL:
        return ("en",)
    preferred = [name for name in environ.get("LANGUAGE", "").split(":") if name]
    return tuple(dict.fromkeys([*preferred, locale]))


@functools.cache
def translation(
    languages: tuple[str, ...], localedir: Path = LOCALE_DIR
) -> gettext.NullTranslations:
    """The catalog for the first of ``languages`` that has one, else English (no catalog).

    ``languages`` as :func:`languages_from_environ` gives them, or an HTTP client's
    ``Accept-Language`` choice (``("ja",)``). Cached: a catalog is read once per process.
    """
    return gettext.translation(DOMAIN, localedir, languages=list(languages), fallback=True)


def process_translation() -> gettext.NullTranslations:
    """The catalog of this process's locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``)."""
    return translation(languages_from_environ(os.environ))


def _(message: str) -> str:
    """``message`` in the process's language."""
    return process_translation().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n``, in the process's language."""
    return process_translation().ngettext(singular, plural, n)


def _main() -> int:
    """``python -m trio_smartmeter.i18n``: which language the messages are shown in."""
    print(_("Messages are shown in English; LANG=ja_JP.UTF-8 shows them in Japanese."))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
