"""``trio-smartmeter deploy-files [NAME]``: the packaged deployment files, after a pipx install too."""

from __future__ import annotations

import sys
from importlib import resources

from trio_smartmeter.i18n import _


def _files() -> dict[str, str]:
    root = resources.files("trio_smartmeter") / "deploy"
    out: dict[str, str] = {}

    def walk(node: resources.abc.Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif not child.name.startswith(".") and not child.name.endswith(".pyc"):
                out[f"{prefix}{child.name}"] = child.read_text(encoding="utf-8")

    if root.is_dir():
        walk(root, "")
    return out


def deploy_files_main(name: str | None) -> int:
    """Without ``name``, the list; else that file on stdout (exit 2 if there is none)."""
    files = _files()
    if name is None:
        print(_("packaged deployment files (print one with: trio-smartmeter deploy-files NAME):"))
        for known in files:
            print(f"  {known}")
        return 0
    if name not in files:
        message = _("no deployment file {name}; known: {known}")
        print(message.format(name=repr(name), known=", ".join(files)), file=sys.stderr)
        return 2
    sys.stdout.write(files[name])
    return 0
