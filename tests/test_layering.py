"""How the tree is laid out, checked in code: the teaching core at the top level, the machinery in its rooms.

Across: the core (the card's files) imports nothing from the rooms (corpora/, scale/, extras/) except through
the named SEAMS below, each with its reason; the rooms may import the core and each other. Down: inside the
core, imports run one way through the floors -- signal (NumPy/SciPy, no torch) -> data (files, manifests, no
torch) -> model (torch, no files) -> front doors (train, evaluate, serve). Every `import` of every module is
read, also the ones inside functions. And a short default run imports at most DEFAULT_RUN_LINES non-blank
lines of the project's own code.

    python -m pytest tests/test_layering.py
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TINY

FLOORS = {"features": "signal", "mel": "signal", "mfcc": "signal", "f0": "signal",
          "data": "data", "sampling": "data", "metrics": "data",
          "models": "model", "mtl": "model",
          "train": "front", "evaluate": "front", "serve": "front"}
RANK = {"signal": 0, "data": 1, "model": 2, "front": 3}
ROOMS = ("corpora", "scale", "extras")
# (core module, room module): why the core reaches into a room there. Everything else in a room is skipped by
# a student following one run; these are the doors, and each is named where it is used.
SEAMS = {
    ("data", "corpora.archive"): "a manifest path may name a zip member (AI Hub's archives)",
    ("data", "corpora.text"): "manifests in encodings other than UTF-8 (UTF-16, CP949 from Korean Excel)",
    ("data", "corpora.speakers"): "one set of labels per speaker (majority vote)",
    ("data", "corpora.cli"): "`python data.py COMMAND`: the corpus adapters",
    ("data", "extras.denoise"): "--denoise",
    ("train", "extras.synth_corpus"): "the built-in corpus, when no --manifest is given",
    ("train", "scale.runs"): "the run folder: one run per folder (locked), atomic files, checkpoints, last.pt",
    ("train", "scale.settings"): "every flag and the manifest's splits checked, one line each; what a run says of its splits",
    ("train", "scale.store"): "--store, torchrun, speed/babble copies: features on disk",
    ("train", "scale.resume"): "--resume RUN and --refit RUN: a run's saved settings",
    ("evaluate", "scale.runs"): "a run's checkpoint, read without running its pickle; its manifest as trained",
    ("evaluate", "scale.store"): "--store",
    ("evaluate", "corpora.text"): "--out never replaces a file that is not a profiles CSV",
    ("evaluate", "scale.ensemble"): "several runs, a baseline run folder, --save",
    ("evaluate", "scale.tables"): "--compare",
    ("evaluate", "extras.plots"): "--plot",
    ("evaluate", "extras.recording"): "a recording as a run hears it (denoised, long files in blocks) and its warnings",
    ("models", "extras.specaugment"): "SpecAugment's masks, on training batches of a run with --augment spec",
    ("serve", "extras.web"): "the page and its HTTP API",
}
EAGER_SEAMS = {("train", "scale.runs"), ("train", "scale.settings"), ("evaluate", "scale.runs")}  # every run
LAZY_SEAMS = set(SEAMS) - EAGER_SEAMS  # imported where they are used: a run that does not need one never loads it
DEFAULT_RUN_LINES = 3000  # non-blank lines of the project's modules a default run imports, the synthesiser included

CORE = {p.stem: p for p in sorted(ROOT.glob("*.py"))}
ROOM_FILES = {f"{p.parent.name}.{p.stem}": p for room in ROOMS for p in sorted((ROOT / room).glob("*.py"))
              if p.stem != "__init__"}


def imports(path):
    """[(imported project module, at module level?)] for every import in the file (torch too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] in CORE or parts[0] == "torch":
                found.append((parts[0], id(node) in top))
            elif parts[0] in ROOMS and len(parts) > 1 and ".".join(parts[:2]) in ROOM_FILES:
                found.append((".".join(parts[:2]), id(node) in top))
    return found


def test_the_core_is_the_cards_files_and_every_one_has_a_floor():
    assert set(CORE) <= set(FLOORS), f"top-level modules without a floor: {sorted(set(CORE) - set(FLOORS))}"
    for name in ("features", "mel", "mfcc", "f0", "data", "models", "mtl", "train", "evaluate"):
        assert name in CORE, name


@pytest.mark.parametrize("name", sorted(CORE))
def test_no_import_runs_back_up_and_the_rooms_only_through_seams(name):
    mine = RANK[FLOORS[name]]
    for other, top_level in imports(CORE[name]):
        if other == "torch":
            assert mine >= RANK["model"], f"{name} ({FLOORS[name]} floor) imports torch"
        elif other in CORE:
            theirs = RANK[FLOORS[other]]
            assert theirs <= mine, f"{name} ({FLOORS[name]}) imports {other} ({FLOORS[other]}), a floor above it"
            assert not (mine == RANK["model"] and theirs == RANK["data"]), f"{name} (model, no files) imports {other}"
        else:
            assert (name, other) in SEAMS, f"{name} imports {other}: not a named seam (tests/test_layering.py)"
            assert not top_level or (name, other) not in LAZY_SEAMS, f"{name} imports {other} at load time"


def test_every_named_seam_is_used():
    used = {(name, other) for name, path in CORE.items() for other, _ in imports(path) if other in ROOM_FILES}
    stale = {seam for seam in set(SEAMS) - used if seam[0] in CORE}
    assert not stale, f"seams no code uses any more: {sorted(stale)}"


def test_the_checker_catches_a_core_import_of_a_room(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text('"""A bad example."""\nimport mel\ndef f():\n    from scale import store\n    import train\n',
                    encoding="utf-8")
    assert imports(fake) == [("mel", True), ("scale.store", False), ("train", False)]


def non_blank_lines(path):
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


@pytest.mark.slow
def test_a_default_run_imports_few_lines_of_the_project(tiny, tmp_path):
    """A short run of the card's command (python train.py --model hps --input mfcc_f0) on a small corpus of the
    built-in kind, then every project module it imported, counted: the course a student reads to follow one run."""
    code = (f"import sys; sys.argv = ['train.py', '--model', 'hps', '--input', 'mfcc_f0', '--manifest', "
            f"{tiny['manifest']!r}, *{TINY!r}, '--epochs', '1', '--out', {str(tmp_path / 'run')!r}]; import train; "
            "train.main(sys.argv[1:]); "
            "from extras import synth_corpus; "  # the default run without --manifest synthesises its corpus
            "print('\\n'.join(m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=tiny["env"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    # The project's own .py files: not its tests, nor a virtual environment made inside the clone (CI's .ci-venv).
    files = [Path(line) for line in result.stdout.splitlines() if line.startswith(str(ROOT) + "/")]
    mine = sorted({p.relative_to(ROOT) for p in files if p.suffix == ".py" and "site-packages" not in p.parts
                   and not any(part.startswith(".") or part == "tests" for part in p.relative_to(ROOT).parts)})
    lines = {str(rel): non_blank_lines(ROOT / rel) for rel in mine}
    total = sum(lines.values())
    print(f"a default run imports {len(lines)} project files, {total} non-blank lines: {lines}")
    assert total <= DEFAULT_RUN_LINES, lines


def test_every_test_file_a_module_names_exists():
    """`python -m pytest tests/X.py` in a module's docstring names a file that is there (a stale pointer sends a
    reader to nothing)."""
    import re
    for path in [*CORE.values(), *ROOM_FILES.values()]:
        for name in re.findall(r"tests/(test_\w+\.py)", path.read_text(encoding="utf-8")):
            assert (ROOT / "tests" / name).is_file(), f"{path.relative_to(ROOT)} names tests/{name}, which does not exist"
