"""The model zoo that ships inside the package (cnncli/zoo -> specs/)."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def zoo_dir() -> Path:
    return Path(str(files("cnncli") / "zoo"))


def zoo_specs() -> dict[str, Path]:
    """Zoo name (file stem, `course/<stem>` for the course examples) -> file."""
    root = zoo_dir()
    found = {p.stem: p for p in sorted(root.glob("*.yaml"))}
    found.update({f"course/{p.stem}": p for p in sorted(root.glob("course/*.yaml"))})
    return found


def find_zoo_spec(name: str) -> Path | None:
    """The zoo file for `resnet18`, `resnet18.yaml` or `course/lenet_dlai`, if there is one."""
    key = name[:-5] if name.endswith(".yaml") else name
    return zoo_specs().get(key)
