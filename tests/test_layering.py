"""The architecture of ../shared/STYLE.md ("Layering"): signal floor (NumPy/SciPy) -> data floor -> model floor
(torch, no files) -> front doors. Each module names its floor in the first line of its docstring; this test reads
every `import` of every module (also the ones inside functions) and fails when one reaches a higher floor, or
when the signal floor imports torch, or the model floor imports a data-floor module.

    python -m pytest tests/test_layering.py
"""
import ast

import pytest

from conftest import ROOT

RANK = {"signal": 0, "data": 1, "model": 2, "front": 3}  # "Front door", "Front-door helper(s)"


def floor_of(path):
    first = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))).splitlines()[0].lower()
    return next(name for name in RANK if first.startswith(name))


MODULES = {p.stem: p for p in sorted(ROOT.glob("*.py"))}


def imported_modules(path):
    """Names of the project modules and of torch imported anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n in MODULES or n == "torch"}


def test_every_module_names_a_floor():
    for name, path in MODULES.items():
        assert floor_of(path) in RANK, name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_runs_back_up(name):
    path = MODULES[name]
    mine = RANK[floor_of(path)]
    for other in imported_modules(path):
        if other == "torch":
            assert mine >= RANK["model"] or name == "data", f"{name} ({floor_of(path)} floor) imports torch"
            continue
        theirs = RANK[floor_of(MODULES[other])]
        assert theirs <= mine, f"{name} ({floor_of(path)} floor) imports {other} ({floor_of(MODULES[other])} floor)"
        if mine == RANK["model"]:
            assert theirs != RANK["data"], f"{name} (model floor, no files) imports {other} (data floor)"


def test_the_checker_catches_an_upward_import(tmp_path):
    """imported_modules on a made-up signal-floor file that imports train: the rule above would reject it."""
    fake = tmp_path / "fake.py"
    fake.write_text('"""Signal floor: a bad example."""\ndef f():\n    import train\n    from runs import x\n',
                    encoding="utf-8")
    assert floor_of(fake) == "signal" and imported_modules(fake) == {"train", "runs"}
