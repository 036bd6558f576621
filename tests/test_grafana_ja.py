"""The Japanese dashboard is the English one with Japanese words: same panels, same
queries, every word translated, and generated from the committed table (scripts/grafana-ja)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from scripts.grafana_ja import (
    ENGLISH,
    JAPANESE,
    TABLE,
    Untranslated,
    _words,
    generate,
    translate,
    words,
)
from trio_smartmeter.cli.deploy_files import deploy_files_main

JAPANESE_TEXT = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
#: Words that are the same in both languages: a legend of labels, a unit-like name.
UNTRANSLATED = re.compile(r"^((RSSI|EVENT) )?\{\{\w+\}\}$|^p\d+$")


def load(path: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def without_words(dashboard: dict[str, Any]) -> dict[str, Any]:
    for holder, key in _words(dashboard):
        if isinstance(holder.get(key), str):
            holder[key] = ""
    return {k: v for k, v in dashboard.items() if k not in ("uid", "tags")}


def test_the_committed_dashboard_is_generated_from_the_english_one() -> None:
    assert JAPANESE.read_text(encoding="utf-8") == generate(), "run scripts/grafana-ja"


def test_same_panels_and_queries_other_words() -> None:
    english, japanese = load(ENGLISH), load(JAPANESE)
    assert without_words(japanese) == without_words(load(ENGLISH))
    assert japanese["uid"] == english["uid"] + "-ja"
    en_panels = [p["title"] for p in english["panels"]]
    assert len(en_panels) == len(japanese["panels"]) > 20


def test_every_word_is_japanese_and_keeps_its_fields() -> None:
    english, japanese = words(load(ENGLISH)), words(load(JAPANESE))
    assert len(english) == len(japanese)
    for en, ja in zip(english, japanese, strict=True):
        assert JAPANESE_TEXT.search(ja) or (UNTRANSLATED.match(ja) and ja == en), ja
        assert re.findall(r"\{\{\w+\}\}", en) == re.findall(r"\{\{\w+\}\}", ja), ja
        assert re.findall(r"\bsmartmeter_\w+", en) == re.findall(r"\bsmartmeter_\w+", ja), ja


def test_a_word_missing_from_the_table_stops_the_generation() -> None:
    table = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    del table["Energy per day"]
    with pytest.raises(Untranslated) as caught:
        translate(load(ENGLISH), table)
    assert caught.value.words == ["Energy per day"]


def test_deploy_files_ships_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy_files_main(None) == 0
    assert "grafana-dashboard.ja.json" in capsys.readouterr().out.split()
