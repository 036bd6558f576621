"""Which language the status page speaks: ``Accept-Language`` (RFC 9110 §12.5.4).

Japanese and English. Quality values are honoured (``q=0`` refuses), a range matches its
language and region variants (``ja-JP`` asks for ``ja``), ``*`` takes the first we have
that was not named. Without a header, or when nothing named is offered, the page is
English: every browser sends the header (a Japanese one asks for ``ja`` first), so no
header means a script or ``curl``, whose readers search and paste in English, as the log
lines are (issue 22). ``?lang=ja`` / ``?lang=en`` overrides, for a shared link.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT", "LANGUAGES", "negotiate"]

#: What the page is offered in, in the order a ``*`` takes them.
LANGUAGES: Final = ("en", "ja")
DEFAULT: Final = "en"


def _ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                q = q if 0.0 <= q <= 1.0 else 0.0
        if tag:
            ranges.append((tag.lower(), q))
    return ranges


def negotiate(accept_language: str, override: str | None = None) -> str:
    """The language of :data:`LANGUAGES` the client prefers, else :data:`DEFAULT`."""
    if override in LANGUAGES:
        return override
    ranges = _ranges(accept_language)
    named = {tag.split("-")[0]: q for tag, q in reversed(ranges)}  # the first mention wins
    wildcard = next((q for tag, q in ranges if tag == "*"), 0.0)
    scored = [(named.get(lang, wildcard), -i, lang) for i, lang in enumerate(LANGUAGES)]
    q, _, best = max(scored)
    return best if q > 0 else DEFAULT
