"""The one build step pyproject.toml cannot declare: the gettext catalogs, compiled.

The ``.po`` files under ``trio_smartmeter/locale/`` are the committed source; the ``.mo``
files gettext reads are compiled from them by ``build_py`` with Babel (a build
requirement), so every way the package is built gets them:

* a wheel or an sdist's wheel (``python -m build``, ``pip install .``, the Containerfile):
  into the build directory, hence into the wheel;
* an editable install (``pip install -e .``, as ``scripts/test`` does): beside the
  ``.po`` in the checkout, where the editable package is imported from (setuptools runs
  ``build_py`` in editable mode for exactly this kind of generated file).

A catalog that does not parse fails the build (with its file and line), never a start.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup  # type: ignore[import-untyped,unused-ignore]
from setuptools.command.build_py import build_py  # type: ignore[import-untyped,unused-ignore]

ROOT = Path(__file__).resolve().parent
LOCALE = Path("trio_smartmeter", "locale")


def compile_catalogs(source: Path, target: Path) -> list[str]:
    """Every ``source/LOCALE/*/LC_MESSAGES/*.po`` as a ``.mo`` at the same place under
    ``target``; returns the paths written. Fuzzy entries are left out (gettext's rule)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted((source / LOCALE).glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as f:
            catalog = read_po(f, abort_invalid=True)
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with mo.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        written.append(str(mo))
    return written


class BuildPyWithCatalogs(build_py):  # type: ignore[misc,unused-ignore]
    """``build_py`` that also compiles the catalogs (into the checkout when editable)."""

    def run(self) -> None:
        super().run()
        target = ROOT if self.editable_mode else Path(self.build_lib)
        self._catalogs = compile_catalogs(ROOT, target)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *getattr(self, "_catalogs", [])]


if __name__ == "__main__":  # setuptools runs this file as __main__; scripts/i18n.py imports it
    setup(cmdclass={"build_py": BuildPyWithCatalogs})
