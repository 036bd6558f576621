"""Messages in the user's language: the locale rules, the catalogs, and that no marked
message goes without its translation (scripts/i18n fixes what these tests find)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from scripts.i18n import ROOT, catalogs, extract, read_catalog, untranslated
from setup import compile_catalogs
from trio_smartmeter import i18n

DIAGNOSTIC = "Messages are shown in English; LANG=ja_JP.UTF-8 shows them in Japanese."
JA_PO = ROOT / "trio_smartmeter" / "locale" / "ja" / "LC_MESSAGES" / "trio_smartmeter.po"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "ja_JP.UTF-8"}, ("ja_JP.UTF-8",)),
        ({"LANG": "C"}, ("en",)),
        ({"LANG": "POSIX"}, ("en",)),
        ({"LANG": "C.UTF-8"}, ("en",)),
        ({}, ("en",)),
        ({"LANG": "en_US.UTF-8"}, ("en_US.UTF-8",)),
        # LC_ALL wins over LC_MESSAGES, which wins over LANG (POSIX)
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, ("en",)),
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "C"}, ("ja_JP.UTF-8",)),
        ({"LC_ALL": "", "LC_MESSAGES": "ja_JP.UTF-8"}, ("ja_JP.UTF-8",)),
        # GNU's LANGUAGE comes first, but never overrides a C locale
        ({"LANGUAGE": "ja:en", "LANG": "en_US.UTF-8"}, ("ja", "en", "en_US.UTF-8")),
        ({"LANGUAGE": "ja", "LANG": "C"}, ("en",)),
    ],
)
def test_the_locale_chooses_the_languages(
    environ: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert i18n.languages_from_environ(environ) == expected


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalogs compiled by the build's own code, apart from the checkout's."""
    root = tmp_path_factory.mktemp("compiled")
    assert compile_catalogs(ROOT, root)
    return root / "trio_smartmeter" / "locale"


@pytest.mark.parametrize(
    ("lang", "japanese"),
    [
        ("ja_JP.UTF-8", True),
        ("ja_JP.eucJP", True),
        ("ja", True),
        ("C", False),
        ("en_GB.UTF-8", False),
    ],
)
def test_japanese_for_a_japanese_locale_else_english(
    compiled: Path, lang: str, japanese: bool
) -> None:
    languages = i18n.languages_from_environ({"LANG": lang})
    text = i18n.translation(languages, compiled).gettext(DIAGNOSTIC)
    assert (text != DIAGNOSTIC) is japanese
    assert bool(re.search("[\u3040-\u30ff]", text)) is japanese


def test_a_missing_catalog_means_english_not_a_failure(tmp_path: Path) -> None:
    assert i18n.translation(("ja_JP.UTF-8",), tmp_path).gettext(DIAGNOSTIC) == DIAGNOSTIC


def test_the_process_follows_lang() -> None:
    """The checkout's own catalogs, compiled by its editable install (scripts/test)."""
    mo = JA_PO.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < JA_PO.stat().st_mtime:
        pytest.fail(f"{mo.relative_to(ROOT)} is missing or older than its .po: run scripts/i18n")
    outputs = {}
    for lang in ("ja_JP.UTF-8", "C"):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
        run = subprocess.run(
            [sys.executable, "-m", "trio_smartmeter.i18n"],
            env=env | {"LANG": lang},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        outputs[lang] = run.stdout.strip()
    assert outputs["C"] == DIAGNOSTIC
    assert outputs["ja_JP.UTF-8"] == read_catalog(JA_PO)[DIAGNOSTIC].string


# -- the catalogs against the code -------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract()


def test_extraction_finds_the_marked_messages(template: Catalog) -> None:
    assert DIAGNOSTIC in template


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: p.parts[-3])
def test_every_marked_message_is_translated(po: Path, template: Catalog) -> None:
    missing = untranslated(read_catalog(po), template)
    assert not missing, f"{po.relative_to(ROOT)} lacks {missing}: translate them, run scripts/i18n"


def test_a_catalog_without_a_marked_message_fails_the_check(
    tmp_path: Path, template: Catalog
) -> None:
    copy = tmp_path / "trio_smartmeter.po"
    text = JA_PO.read_text(encoding="utf-8")
    entry = re.compile(r'\n(#[^\n]*\n)*msgid "' + re.escape(DIAGNOSTIC) + r'"\nmsgstr "[^"]*"\n')
    copy.write_text(entry.sub("\n", text, count=1), encoding="utf-8")
    assert untranslated(read_catalog(copy), template) == [DIAGNOSTIC]
    copy.write_text(text.replace(f'msgid "{DIAGNOSTIC}"', f'#, fuzzy\nmsgid "{DIAGNOSTIC}"'))
    assert untranslated(read_catalog(copy), template) == [DIAGNOSTIC]


def _fields(text: str) -> list[str]:
    return sorted(re.findall(r"\{[^{}]*\}", text))


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: p.parts[-3])
def test_every_entry_is_translated_with_the_same_fields(po: Path) -> None:
    """Also the entries prepared for messages not marked yet: no empty, fuzzy or
    mistyped translation waits to be shipped, and str.format() finds every field."""
    catalog = read_catalog(po)
    bad = [
        m.id
        for m in [*catalog, *catalog.obsolete.values()]
        if m.id and (not m.string or m.fuzzy or _fields(str(m.id)) != _fields(str(m.string)))
    ]
    assert not bad, f"{po.relative_to(ROOT)}: empty, fuzzy or fields differ: {bad}"
    assert catalog.locale is not None and catalog.locale.language == po.parts[-3]


def test_the_update_keeps_prepared_translations(tmp_path: Path, template: Catalog) -> None:
    """scripts/i18n: an entry no code marks becomes obsolete, and comes back unchanged
    (not fuzzy, not lost) when its message is marked."""
    from scripts.i18n import update

    po = tmp_path / "trio_smartmeter.po"
    shutil.copy(JA_PO, po)
    prepared = "a message prepared before any code marks it"
    assert prepared not in template
    with po.open("a", encoding="utf-8") as f:
        f.write(f'\n#~ msgid "{prepared}"\n#~ msgstr "前もって訳したメッセージ"\n')
    update(po, template)
    assert prepared in read_catalog(po).obsolete
    marked = Catalog()
    for message in template:
        if message.id:
            marked.add(message.id)
    marked.add(prepared)
    update(po, marked)
    entry = read_catalog(po)[prepared]
    assert entry is not None and not entry.fuzzy
    assert entry.string == "前もって訳したメッセージ"


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: p.parts[-3])
def test_the_catalogs_are_current_with_the_code(
    po: Path, tmp_path: Path, template: Catalog
) -> None:
    """What scripts/i18n would write is what is committed: no marked message is missing,
    no entry is stale, and a run that changes no message changes no byte."""
    from scripts.i18n import update

    copy = tmp_path / po.name
    shutil.copy(po, copy)
    update(copy, template)
    assert copy.read_bytes() == po.read_bytes(), f"run scripts/i18n and commit {po.name}"


#: What a message tells the user to set or type: a variable, a flag, a group, a device form.
_FIX = re.compile(r"SMARTMETER_[A-Z_]+\*?|(?<![\w/.-])--?[a-z][a-z-]*[a-z]|dialout|sim:MODEL")


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: p.parts[-3])
def test_a_message_that_names_a_fix_names_it_in_every_language(po: Path, template: Catalog) -> None:
    """SMARTMETER_ID, -port, --help... are what the user types: a translation keeps them."""
    catalog = read_catalog(po)
    differ = {
        str(m.id): sorted(set(_FIX.findall(str(m.id))) ^ set(_FIX.findall(str(entry.string))))
        for m in template
        if m.id and (entry := catalog.get(m.id)) is not None
        if set(_FIX.findall(str(m.id))) != set(_FIX.findall(str(entry.string)))
    }
    assert not differ, f"{po.relative_to(ROOT)}: the fix differs: {differ}"
    assert any("SMARTMETER_ID" in str(m.id) for m in template)  # the check has something to see
