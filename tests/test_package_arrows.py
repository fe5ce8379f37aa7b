"""The package arrows of the design (docs/house.md), enforced: every import in vaestudio/ and studio/,
lazy ones inside functions included, is parsed with ``ast`` and each edge between packages must be one
the arrows allow. No exceptions are listed."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# importer -> the packages it may import (besides itself). "common" is the neutral module every package
# may use; the chain hub -> checkpoints -> models -> ops -> _C lets each import everything to its right.
ANYTHING = {"common", "worlds", "data", "ops", "_C", "models", "checkpoints", "hub", "pipelines", "evaluation",
            "training", "lessons", "cli", "vaestudio"}
ARROWS: dict[str, set[str]] = {
    "studio.engine": ANYTHING,
    "studio": set(),
    "vaestudio": ANYTHING,  # the package root: load() over hub
    "cli": ANYTHING,
    "lessons": ANYTHING - {"cli", "vaestudio"},
    "evaluation": {"pipelines", "hub", "models", "data", "worlds", "ops", "common"},
    "pipelines": {"hub", "checkpoints", "models", "data", "worlds", "ops", "common"},
    "training": {"hub", "checkpoints", "evaluation", "models", "data", "worlds", "ops", "common"},
    "hub": {"checkpoints", "models", "ops", "_C", "common"},
    "checkpoints": {"models", "ops", "_C", "common"},
    "models": {"ops", "_C", "common"},
    "ops": {"_C", "common"},
    "worlds": {"data", "common"},
    "data": {"common"},
    "common": set(),
}
CLI_MODULES = {"vaestudio.cli", "vaestudio.sample_command", "vaestudio.data_command", "vaestudio.lesson_command"}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str | None:
    """The node of the arrows a module belongs to (None: outside the project, e.g. torch)."""
    parts = module.split(".")
    if parts[0] == "studio":
        return "studio.engine" if module == "studio.engine" else "studio"
    if parts[0] != "vaestudio":
        return None
    if len(parts) == 1:
        return "vaestudio"
    if module in CLI_MODULES:
        return "cli"
    return parts[1]


def imported_modules(path: pathlib.Path, text: str | None = None) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in the file (or in ``text`` read as that file), at any
    depth; ``from P import name`` counts as importing ``P.name`` when that is a module of the project."""
    importer = module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    text = path.read_text(encoding="utf-8") if text is None else text
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                is_module = any((ROOT / pathlib.Path(*candidate.split("."))).with_suffix(suffix).exists()
                                for suffix in (".py", "")) or candidate == "vaestudio._C"
                found.append((candidate if is_module else source, node.lineno))
    return found


def project_files() -> list[pathlib.Path]:
    return sorted(path for folder in ("vaestudio", "studio") for path in (ROOT / folder).rglob("*.py"))


def forbidden_edges() -> list[str]:
    problems = []
    for path in project_files():
        importer = module_name(path)
        source = package_of(importer)
        for target_module, line in imported_modules(path):
            target = package_of(target_module)
            if target is None:
                if source == "studio" and target_module.split(".")[0] == "torch":
                    problems.append(f"{path.relative_to(ROOT)}:{line}: studio imports torch (only engine.py may)")
                continue
            if source == "studio" and target == "studio.engine":
                continue  # studio modules may name the engine (the entry points build it)
            if target == source or (source.startswith("studio") and target.startswith("studio")):
                continue
            if target not in ARROWS[source]:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {source} -> {target} ({target_module})")
    return problems


def test_every_import_follows_the_arrows():
    problems = forbidden_edges()
    assert not problems, "imports against the package arrows:\n" + "\n".join(problems)


def test_the_checker_sees_lazy_relative_and_from_imports():
    """The parser itself: an import hidden in a function, a relative import and ``from vaestudio import
    pipelines`` are all edges, so a wrong-way import cannot hide from the arrows test."""
    hidden = "def _hidden():\n    from vaestudio import pipelines\n    from ..data import registry\n"
    modules = {module for module, _ in imported_modules(ROOT / "vaestudio" / "models" / "base.py", hidden)}
    assert {"vaestudio.pipelines", "vaestudio.data.registry"} <= modules
    assert package_of("vaestudio.pipelines") not in ARROWS["models"]
    assert package_of("vaestudio.data.registry") not in ARROWS["models"]


def test_every_package_is_on_the_arrows_and_says_its_job():
    """Each folder of vaestudio/ is a node of the arrows, and its __init__ docstring says what it does."""
    for folder in sorted(path for path in (ROOT / "vaestudio").iterdir() if (path / "__init__.py").exists()):
        assert folder.name in ARROWS, f"vaestudio/{folder.name} is not in the arrows; add it to docs/house.md"
        docstring = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
        assert docstring and len(docstring.split()) >= 8, f"vaestudio/{folder.name}/__init__.py needs a docstring"


def test_the_arrows_match_the_house_description():
    """docs/house.md lists the same arrows this test enforces."""
    text = (ROOT / "docs" / "house.md").read_text(encoding="utf-8")
    block = re.search(r"```arrows\n(.*?)```", text, re.DOTALL)
    assert block, "docs/house.md needs an ```arrows block"
    documented: dict[str, set[str]] = {}
    for line in block.group(1).splitlines():
        if "->" not in line:
            continue
        left, right = (part.strip() for part in line.split("#")[0].split("->", 1))
        targets = set() if right in ("", "nothing") else {name.strip() for name in right.split(",")}
        for importer in (name.strip() for name in left.split(",")):
            documented[importer] = {"ANYTHING"} if targets == {"anything"} else targets
    expected = {name: ({"ANYTHING"} if allowed == ANYTHING else allowed) for name, allowed in ARROWS.items()}
    assert documented == expected


@pytest.mark.parametrize("module, package", [("vaestudio", "vaestudio"), ("vaestudio.sample_command", "cli"),
                                             ("vaestudio.models.vae", "models"), ("studio.tabs.edit", "studio"),
                                             ("studio.engine", "studio.engine"), ("torch.nn", None)])
def test_modules_map_to_their_package(module, package):
    assert package_of(module) == package
