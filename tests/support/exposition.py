"""A Prometheus text exposition as ``{(name, labels): value}``, read by prometheus_client's
own parser, so a test never depends on how a line happens to be spelled (label order,
quoting, ``name{}``).

``samples(text)[key("smartmeter_current_amperes", phase="r")]`` is one sample;
``key("smartmeter_up")`` is the sample without labels.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

#: A sample's identity: its exposed name (``..._total`` included) and its label set.
Key = tuple[str, frozenset[tuple[str, str]]]


def key(name: str, /, **labels: str) -> Key:
    return name, frozenset(labels.items())


def samples(text: str) -> dict[Key, float]:
    """Every sample of ``text``; raises ``ValueError`` on an exposition that does not parse."""
    return {
        key(s.name, **s.labels): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, /, **labels: str) -> float | None:
    """The sample of ``name`` with exactly ``labels`` in ``text``, or None."""
    return samples(text).get(key(name, **labels))
