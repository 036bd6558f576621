"""Secret never shows itself, whatever formats it."""

from __future__ import annotations

import pickle

import pytest

from trio_smartmeter.core.secret import MASK, Secret


def test_every_rendering_is_the_mask() -> None:
    s = Secret("DEMOPASSWORD")
    assert str(s) == MASK
    assert repr(s) == f"Secret('{MASK}')"
    assert f"{s}" == f"{s:>20}" == MASK
    assert "DEMO" not in f"{[s]!r} {s!s}"


def test_value_semantics() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert hash(Secret("a")) == hash(Secret("a"))
    assert len(Secret("abc")) == 3
    assert not Secret("")
    assert Secret("x").reveal() == "x"


def test_immutable_and_not_picklable() -> None:
    s = Secret("x")
    with pytest.raises(AttributeError):
        s._value = "y"
    with pytest.raises(TypeError):
        pickle.dumps(s)
