"""The Japanese Grafana dashboard, made from the English one and a table of its words.

``trio_smartmeter/deploy/grafana-dashboard.json`` stays the one home of the panels and
their queries; ``grafana-dashboard.ja.json`` is that file with its titles, descriptions,
variable labels, legends and value texts replaced from ``scripts/grafana-dashboard.ja.yml``
and its own uid (``trio-smartmeter-ja``), so both can be imported side by side. A word the
table lacks stops the generation with the words to add: a new English panel cannot ship
half-translated. ``--check`` only compares (tests/test_grafana_ja.py does the same).
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "trio_smartmeter" / "deploy"
ENGLISH = DEPLOY / "grafana-dashboard.json"
JAPANESE = DEPLOY / "grafana-dashboard.ja.json"
TABLE = ROOT / "scripts" / "grafana-dashboard.ja.yml"
UID_SUFFIX = "-ja"
TAG = "日本語"

Json = dict[str, Any]


class Untranslated(Exception):
    def __init__(self, words: list[str]) -> None:
        super().__init__(f"add to {TABLE.name}: " + "; ".join(repr(w) for w in words))
        self.words = words


def _panels(panels: list[Json]) -> Iterator[Json]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _words(dashboard: Json) -> Iterator[tuple[Json, str]]:
    """Every ``(object, key)`` whose string value a reader reads (not a query, a unit,
    a variable's name or value)."""
    yield dashboard, "title"
    yield dashboard, "description"
    for link in dashboard.get("links", []):
        yield link, "title"
    for variable in dashboard.get("templating", {}).get("list", []):
        yield variable, "label"
    for panel in _panels(dashboard.get("panels", [])):
        yield panel, "title"
        yield panel, "description"
        for target in panel.get("targets", []):
            yield target, "legendFormat"
        field = panel.get("fieldConfig", {})
        for mapping in field.get("defaults", {}).get("mappings", []):
            for option in mapping.get("options", {}).values():
                if isinstance(option, dict):
                    yield (option.get("result", option)), "text"
        for override in field.get("overrides", []):
            for prop in override.get("properties", []):
                if prop.get("id") == "displayName":
                    yield prop, "value"


def translate(english: Json, table: dict[str, str]) -> Json:
    """``english`` with every word from ``table``; raises :class:`Untranslated`."""
    japanese = copy.deepcopy(english)
    missing: list[str] = []
    for holder, key in _words(japanese):
        text = holder.get(key)
        if not isinstance(text, str) or not text.strip():
            continue
        if text in table:
            holder[key] = table[text]
        elif text not in missing:
            missing.append(text)
    if missing:
        raise Untranslated(missing)
    japanese["uid"] = english["uid"] + UID_SUFFIX
    japanese["tags"] = [*english.get("tags", []), TAG]
    return japanese


def words(dashboard: Json) -> list[str]:
    """The dashboard's words in order (for the tests)."""
    return [h[k] for h, k in _words(dashboard) if isinstance(h.get(k), str) and h[k].strip()]


def render(dashboard: Json) -> str:
    """As the English file is written: two-space indent, a final newline; kana kept."""
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def generate(read: Callable[[Path], str] = lambda p: p.read_text(encoding="utf-8")) -> str:
    english = json.loads(read(ENGLISH))
    table = yaml.safe_load(read(TABLE))
    return render(translate(english, table))


def main(argv: list[str]) -> int:
    try:
        text = generate()
    except Untranslated as exc:
        print(f"scripts/grafana-ja: {exc}", file=sys.stderr)
        return 1
    if "--check" in argv:
        if JAPANESE.read_text(encoding="utf-8") != text:
            print(
                f"{JAPANESE.relative_to(ROOT)} is out of date: run scripts/grafana-ja",
                file=sys.stderr,
            )
            return 1
        return 0
    JAPANESE.write_text(text, encoding="utf-8")
    print(f"wrote {JAPANESE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
