"""The package order the README describes, enforced: no package imports one above it.

Every import is counted, at the top of a module or inside a function (a lazy import is still a
dependency). `evac` never imports `sync` or `cardreader`; `printables` and `cardreader` import
neither Flask nor `evac`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top; a package may import those in its own layer and below. Keep in step with the
# README's "Architecture" section.
LAYERS: list[set[str]] = [
    {"common", "settings", "extensions"},
    {"incidents"},
    {"audit"},
    {"accounts"},
    {"outbox"},
    {"stays"},
    {"shelters"},
    {"people"},
    {"cards"},
    {"checkin"},
    {"readers"},
    {"hq"},
    {"retention"},
    {"desk"},
    {"demo"},
    {"web"},
    {"app", "cli", "cli_groups", "models", "__init__", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _package(root: Path, path: Path) -> str:
    parts = path.relative_to(root / "evac").parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _evac_modules(root: Path) -> list[Path]:
    return [p for p in sorted((root / "evac").rglob("*.py")) if "migrations" not in p.parts]


def upward_imports(root: Path) -> list[str]:
    """Every import in `root`/evac of a package above the importer's own, or of sync/cardreader."""
    found = []
    for path in _evac_modules(root):
        own = RANK[_package(root, path)]
        for line, module in _imports(path):
            top, _dot, rest = module.partition(".")
            where = f"{path.relative_to(root)}:{line}"
            if top in ("sync", "cardreader"):
                found.append(f"{where} imports {module} (evac never imports it)")
            if top != "evac" or not rest:
                continue
            target = rest.split(".")[0]
            if RANK.get(target, -1) > own:
                found.append(f"{where} imports {module} (layer {RANK[target]} above {own})")
    return found


def test_every_evac_package_has_a_layer() -> None:
    missing = sorted({_package(ROOT, p) for p in _evac_modules(ROOT)} - set(RANK))
    assert not missing, f"add these packages to LAYERS (and the README): {missing}"


def test_evac_packages_depend_downward_only() -> None:
    upward = upward_imports(ROOT)
    assert not upward, "upward imports:\n" + "\n".join(upward)


@pytest.mark.parametrize("package", ["printables", "cardreader"])
def test_standalone_packages_import_neither_flask_nor_evac(package: str) -> None:
    root = ROOT / package
    if not root.is_dir():
        pytest.skip(f"{package}/ is not in this tree")
    found = [f"{p.relative_to(ROOT)}:{line} imports {module}"
             for p in sorted(root.rglob("*.py")) for line, module in _imports(p)
             if module.split(".")[0] in ("flask", "evac", "sync")]
    assert not found, "\n".join(found)


def test_the_check_finds_upward_and_lazy_imports(tmp_path: Path) -> None:
    """The check itself can fail: a lazy import of hq inside stays, and sync from anywhere in evac."""
    (tmp_path / "evac" / "stays").mkdir(parents=True)
    (tmp_path / "evac" / "stays" / "bad.py").write_text(
        "from evac.common import db\n\ndef f():\n    from evac.hq import service\n", encoding="utf-8")
    (tmp_path / "evac" / "web").mkdir()
    (tmp_path / "evac" / "web" / "worse.py").write_text("import sync.runner\n", encoding="utf-8")
    assert upward_imports(tmp_path) == [
        "evac/stays/bad.py:4 imports evac.hq (layer 11 above 5)",
        "evac/web/worse.py:1 imports sync.runner (evac never imports it)",
    ]
