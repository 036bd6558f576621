"""The catalogs reach a user: built into the wheel from the files the Containerfile copies,
installed into a fresh venv, and shown under LANG=ja_JP.UTF-8."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MO = "trio_smartmeter/locale/ja/LC_MESSAGES/trio_smartmeter.mo"
DIAGNOSTIC = "Messages are shown in English; LANG=ja_JP.UTF-8 shows them in Japanese."


def _container_sources(dest: Path) -> Path:
    """The builder stage's ``COPY`` lines of the Containerfile, done into ``dest``: the
    wheel is built from what the image build has, nothing more (no compiled .mo)."""
    copies = re.findall(r"^COPY (?!--)(.+) (\S+)$", (ROOT / "Containerfile").read_text(), re.M)
    assert copies, "the Containerfile copies no sources"
    for sources, target in copies:
        for name in sources.split():
            src = ROOT / name
            if src.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.mo", "*.pyc")
                shutil.copytree(src, dest / target, ignore=ignore, dirs_exist_ok=True)
            else:  # files go into a directory ("./")
                (dest / target).mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dest / target / src.name)
    return dest


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_wheel_ships_the_catalogs_and_speaks_japanese(tmp_path: Path) -> None:
    src = _container_sources(tmp_path / "src")
    assert not list(src.rglob("*.mo"))
    # the same build as the Containerfile's `pip install .` (isolated: setuptools + Babel)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", src)
    (wheel,) = (tmp_path / "dist").glob("trio_smartmeter-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert MO in zf.namelist()
    venv = tmp_path / "fresh"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHON"))}
    shown = {
        lang: _run(
            python, "-I", "-m", "trio_smartmeter.i18n", env=env | {"LANG": lang}, cwd=tmp_path
        )
        for lang in ("ja_JP.UTF-8", "C")
    }
    assert shown["C"].strip() == DIAGNOSTIC
    assert shown["ja_JP.UTF-8"].strip().startswith("メッセージは日本語で表示しています")
    installed = _run(python, "-I", "-c", "import trio_smartmeter.i18n as m; print(m.LOCALE_DIR)")
    assert installed.strip().startswith(str(venv)), "ran the checkout, not the wheel"
