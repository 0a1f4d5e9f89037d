"""`pip install .` gives a package that imports: every subpackage is packaged and every
third-party module the package code imports is a declared dependency (pyproject.toml), and
the pinned requirements.txt covers the same distributions."""
import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("w2v_tf", "recall_models")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _imported_modules() -> set[str]:
    """Top-level modules imported anywhere in the package code (lazy imports included)."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found


def test_every_subpackage_is_packaged():
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    packaged = set(setuptools.find_packages(str(ROOT), include=find["include"]))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts)
               for package in PACKAGES for p in (ROOT / package).rglob("__init__.py")}
    assert on_disk <= packaged, f"not in the wheel: {sorted(on_disk - packaged)}"
    assert packaged <= on_disk | set(PACKAGES), f"packaged but not ours: {sorted(packaged - on_disk)}"


def test_every_third_party_import_is_a_dependency():
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    optional = {_name(r) for reqs in PYPROJECT["project"]["optional-dependencies"].values()
                for r in reqs}
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(_imported_modules() - set(sys.stdlib_module_names) - set(PACKAGES)):
        names = {_name(d) for d in distributions.get(module, [module])}
        if not names & (declared | optional):
            missing.append(f"{module} (distribution {sorted(names)})")
    assert not missing, f"imported by the package but not declared in pyproject.toml: {missing}"


def test_requirements_pin_every_dependency():
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"requirements.txt keeps exact pins, got {line!r}"
            pinned[_name(line)] = line.split("==")[1]
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = _name(requirement)
        assert name in pinned, f"{name} is a dependency but has no pin in requirements.txt"
        assert "==" not in requirement, f"pyproject.toml declares ranges, not pins: {requirement}"
