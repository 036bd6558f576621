"""The gettext catalogs' three steps, for ``scripts/i18n`` and the catalog tests.

1. :func:`extract`: every message marked in ``trio_smartmeter/`` (``_()``, ``ngettext()``,
   ``N_()``; the files ``babel.cfg`` names) as a Babel template;
2. :func:`update`: merge the template into each ``locale/<lang>/LC_MESSAGES/*.po``.
   Unlike ``pybabel update``, an entry that was obsolete (``#~``) comes back when its exact
   text is marked again, so a translation prepared before its message was marked, or
   kept while a message was unmarked for a while, is never lost; entries no code marks stay
   in the file as obsolete. No fuzzy matching: a changed message stays untranslated until
   a person translates it, instead of shipping a guess;
3. compile: ``setup.compile_catalogs``, the same code the build runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "trio_smartmeter"
WIDTH = 100


def extract(root: Path = ROOT) -> Catalog:
    """The marked messages of ``root``'s package, with where each one is marked."""
    with (root / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call,unused-ignore]
    template = Catalog(project="trio-smartmeter", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), method_map, options_map, strip_comment_tags=True
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def catalogs(root: Path = ROOT) -> list[Path]:
    """Every language's ``.po`` file."""
    return sorted((root / DOMAIN / "locale").glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, abort_invalid=True)


def update(path: Path, template: Catalog) -> Catalog:
    """``path``'s catalog merged with ``template`` (obsolete entries revived first)."""
    catalog = read_catalog(path)
    for message in list(catalog.obsolete.values()):
        if message.id not in catalog:
            catalog[message.id] = message
    catalog.obsolete.clear()
    # the header keeps its POT-Creation-Date: a run that changes no message changes no byte
    # (tests/test_i18n.py checks that the committed catalogs are what this writes)
    catalog.update(
        template,
        no_fuzzy_matching=True,
        update_header_comment=False,
        update_creation_date=False,
    )
    with path.open("wb") as f:
        # where a message is marked: the file, not the line (an edit elsewhere in the file
        # moves no entry; the catalog changes only when its messages do)
        write_po(
            f,
            catalog,
            width=WIDTH,
            sort_by_file=True,
            include_previous=False,
            include_lineno=False,
        )
    return catalog


def untranslated(catalog: Catalog, template: Catalog) -> list[str]:
    """The template's messages that ``catalog`` lacks, or has empty or fuzzy."""
    missing = []
    for message in template:
        if not message.id:
            continue
        ours = catalog.get(message.id, message.context)
        strings = ours.string if ours is not None else ""
        filled = all(strings) if isinstance(strings, (list, tuple)) else bool(strings)
        if ours is None or ours.fuzzy or not filled:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from setup import compile_catalogs

    template = extract()
    status = 0
    for path in catalogs():
        catalog = update(path, template)
        todo = untranslated(catalog, template)
        for msgid in todo:
            print(f"{path.relative_to(ROOT)}: untranslated: {msgid!r}", file=sys.stderr)
        status = status or int(bool(todo))
    for mo in compile_catalogs(ROOT, ROOT):
        print(f"compiled {Path(mo).relative_to(ROOT)}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
