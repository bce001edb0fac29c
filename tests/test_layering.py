"""How the tree is laid out, checked in code: the teaching core at the top level, the machinery in its rooms.

Across: the core (the card's files) imports nothing from the rooms (corpora/, scale/, extras/) except through
the named SEAMS below, each with its reason; the rooms may import the core and each other, but no import ever
closes a circle -- a room that a core file reaches must not reach back (an import circle is a layering bug,
however lazy the import). Down: inside the core, imports run one way through the floors -- signal (NumPy/SciPy,
no torch) -> data (files, manifests, no torch) and windows (arrays, no files) -> model (torch, no files) -> front
doors (train, evaluate, serve). Every `import` of every module is read, also the ones inside functions.

    python -m pytest tests/test_layering.py
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TINY

FLOORS = {"features": "signal", "mel": "signal", "mfcc": "signal", "f0": "signal", "formants": "signal",
          "data": "data", "metrics": "data", "sampling": "windows",
          "models": "model", "mtl": "model",
          "train": "front", "evaluate": "front", "serve": "front"}
RANK = {"signal": 0, "data": 1, "windows": 1, "model": 2, "front": 3}
ROOMS = ("corpora", "scale", "extras")
# (core module, room module): why the core reaches into a room there. Everything else in a room is skipped by
# a student following one run; these are the doors, and each is named where it is used.
SEAMS = {
    ("data", "corpora.archive"): "a manifest path may name a zip member (AI Hub's archives)",
    ("data", "corpora.text"): "manifests in encodings other than UTF-8 (UTF-16, CP949 from Korean Excel)",
    ("data", "corpora.speakers"): "one set of labels per speaker (majority vote); speakers dealt to splits, stratified",
    ("data", "extras.denoise"): "--denoise",
    ("data", "scale.workers"): "--workers: features extracted in several processes (one: a plain map)",
    ("data", "scale.blocks"): "a span longer than data.LONG_S featurised 30 s at a time (also evaluate.py --wav's)",
    ("mtl", "extras.robust"): "the options that make a profile travel: CMN, SpecAugment, F0 statistics, the adversary",
    ("mtl", "extras.cascade"): "--cascade: the original project's \"model connection\", each head reading the earlier ones",
    ("train", "extras.synth_corpus"): "the built-in corpus, when no --manifest is given",
    ("train", "scale.runs"): "the run folder: one run per folder (locked), checkpoints, Ctrl-C, torchrun's agreement",
    ("train", "scale.settings"): "every flag and the manifest's splits checked, one line each; what a run says of its splits",
    ("train", "scale.store"): "--store, torchrun, augmented copies: features on disk",
    ("train", "scale.resume"): "--resume RUN and --refit RUN: a run's saved settings, and where it stopped",
    ("train", "scale.checkpoints"): "--resume: the run's own manifest, its splits as drawn",
    ("evaluate", "scale.checkpoints"): "a run's model, its checkpoint read without running its pickle; its manifest as trained",
    ("evaluate", "scale.store"): "--store",
    ("evaluate", "scale.evaluate_flags"): "every flag against the others, one line each; --wav's released model; --out "
                                          "never replaces a file that is not a profiles CSV",
    ("evaluate", "scale.runs"): "--device: the device train.py would choose (auto: CUDA when present)",
    ("evaluate", "scale.ensemble"): "several runs, a baseline run folder, --save",
    ("evaluate", "scale.tables"): "--compare",
    ("evaluate", "extras.plots"): "--plot",
    ("evaluate", "extras.recording"): "a recording as a run hears it (denoised, long files in blocks) and its warnings",
    ("serve", "extras.web"): "the page and its HTTP API",
    ("train", "scale.console"): "what a run prints: on any terminal (LANG=C), each warning one line",
    ("evaluate", "scale.console"): "what evaluate.py prints: on any terminal (LANG=C), each warning one line",
    ("train", "scale.calibration"): "temperature scaling on the validation speakers: probabilities that mean what they say",
}
EAGER_SEAMS = {("train", "scale.runs"), ("train", "scale.settings"), ("evaluate", "scale.checkpoints")}  # every run
LAZY_SEAMS = set(SEAMS) - EAGER_SEAMS  # imported where they are used: a run that does not need one never loads it
BUDGET = {"core": 2000, "default_run": 2500, "module": 350, "loop": 45}  # non-blank lines (module: all lines)
CORE_TODAY = ("features", "mel", "mfcc", "f0", "data", "sampling", "metrics", "models", "mtl", "train", "evaluate",
              "serve")  # the budget's core; a new signal module (formants.py) comes on top

CORE = {p.stem: p for p in sorted(ROOT.glob("*.py"))}
ROOM_FILES = {f"{p.parent.name}.{p.stem}": p for room in ROOMS for p in sorted((ROOT / room).glob("*.py"))
              if p.stem not in ("__init__", "__main__")}


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


def graph():
    """{module: the set of project modules it imports} over the core and the rooms (tests aside)."""
    files = {**CORE, **ROOM_FILES}
    return {name: {other for other, _ in imports(path) if other in files and other != name}
            for name, path in files.items()}


def circles(edges):
    """The strongly connected components of more than one module (Tarjan 1972): each is an import circle."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
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
            assert theirs < mine or (theirs == mine and FLOORS[other] == FLOORS[name]), \
                f"{name} ({FLOORS[name]}) imports {other} ({FLOORS[other]}), a floor not below it"
            assert not (FLOORS[name] == "model" and FLOORS[other] == "data"), f"{name} (model, no files) imports {other}"
        else:
            assert (name, other) in SEAMS, f"{name} imports {other}: not a named seam (tests/test_layering.py)"
            assert not top_level or (name, other) not in LAZY_SEAMS, f"{name} imports {other} at load time"


def test_every_named_seam_is_used():
    used = {(name, other) for name, path in CORE.items() for other, _ in imports(path) if other in ROOM_FILES}
    stale = {seam for seam in set(SEAMS) - used if seam[0] in CORE}
    assert not stale, f"seams no code uses any more: {sorted(stale)}"


def test_no_import_circle_among_the_projects_files():
    found = circles(graph())
    assert not found, "these modules import each other (a seam must run one way): " + \
        "; ".join(" <-> ".join(c) for c in found)


def test_the_circle_finder_by_hand():
    """circles() on small graphs whose circles are known: a -> b -> c -> a is one, d -> a is not part of it,
    e <-> f another, a self-import none."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}, "g": {"g"}}
    assert sorted(circles(edges)) == [["a", "b", "c"], ["e", "f"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_checker_catches_a_core_import_of_a_room(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text('"""A bad example."""\nimport mel\ndef f():\n    from scale import store\n    import train\n',
                    encoding="utf-8")
    assert imports(fake) == [("mel", True), ("scale.store", False), ("train", False)]


def non_blank_lines(path):
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def training_loop_lines():
    """Non-blank lines of train.py's training loop: from the `while` over epochs to the end of its body."""
    lines = (ROOT / "train.py").read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith("while ") and "epoch" in line)
    indent = len(lines[first]) - len(lines[first].lstrip())
    last = next(i for i in range(first + 1, len(lines))
                if lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) <= indent)
    return sum(1 for line in lines[first:last] if line.strip())


def test_the_line_budget():
    """The one budget of the tree's size: the top-level files of the course together, train.py's loop, and
    every module of the project (all lines, as ../STYLE.md's ceiling counts them)."""
    core = {name: non_blank_lines(CORE[name]) for name in CORE_TODAY}
    assert sum(core.values()) <= BUDGET["core"], f"the core has {sum(core.values())} non-blank lines: {core}"
    assert training_loop_lines() <= BUDGET["loop"], f"train.py's loop has {training_loop_lines()} lines"
    long = {str(p.relative_to(ROOT)): n for p in [*CORE.values(), *ROOM_FILES.values()]
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > BUDGET["module"]}
    assert not long, f"modules over {BUDGET['module']} lines: {long}"


@pytest.mark.slow
def test_a_default_run_imports_few_lines_of_the_project(tiny, tmp_path):
    """A short run of the card's command (python train.py --model hps --input mfcc_f0) on a small corpus of the
    built-in kind, then every project module it imported, counted: the course a student reads to follow one run.
    The built-in corpus's check (extras/synth_corpus.py) is counted; the synthesiser itself (extras/synth.py) runs
    once, on a machine's first run, and is a data source rather than a step of the run (the README says so)."""
    code = (f"import sys; sys.argv = ['train.py', '--model', 'hps', '--input', 'mfcc_f0', '--manifest', "
            f"{tiny['manifest']!r}, *{TINY!r}, '--epochs', '1', '--out', {str(tmp_path / 'run')!r}]; import train; "
            "train.main(sys.argv[1:]); "
            "from extras import synth_corpus; "  # without --manifest a run checks (once: makes) the built-in corpus
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
    assert total <= BUDGET["default_run"], lines


def test_every_test_file_a_module_names_exists():
    """`python -m pytest tests/X.py` in a module's docstring names a file that is there (a stale pointer sends a
    reader to nothing)."""
    import re
    for path in [*CORE.values(), *ROOM_FILES.values()]:
        for name in re.findall(r"tests/(test_\w+\.py)", path.read_text(encoding="utf-8")):
            assert (ROOT / "tests" / name).is_file(), f"{path.relative_to(ROOT)} names tests/{name}, which does not exist"
