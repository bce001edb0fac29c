"""The two READMEs stay in sync: the same commands in both, links to each other, every picture and page they show
exists (the tree's size is tests/test_layering.py's one budget test).

A command is a line of a fenced code block that starts with python, torchrun or pip (a line ending in a
backslash continues on the next one); what follows `#` is a comment, which each README writes in its language.

    python -m pytest tests/test_readme.py
"""
import re

from conftest import ROOT

COMMAND = re.compile(r"^(python|torchrun|pip)\b")


def commands(path):
    """The set of commands in the fenced code blocks of a Markdown file, comments stripped, continuations joined."""
    found, inside, pending = set(), False, ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        text = pending + line.split(" #")[0].rstrip() if pending else line.split(" #")[0].strip()
        if pending or COMMAND.match(text):
            if text.endswith("\\"):
                pending = text[:-1].rstrip() + " "
                continue
            found.add(" ".join(text.split()))
            pending = ""
    return found


def test_every_command_of_one_readme_is_in_the_other():
    english, korean = commands(ROOT / "README.md"), commands(ROOT / "README.ko.md")
    assert len(english) >= 8, f"only {len(english)} commands found in README.md"
    assert not english - korean, f"missing from README.ko.md: {sorted(english - korean)}"
    assert not korean - english, f"missing from README.md: {sorted(korean - english)}"


def test_the_readmes_link_to_each_other_and_their_pictures_exist():
    english, korean = ((ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "README.ko.md"))
    assert "(README.ko.md)" in english.split("\n\n")[1] and "(README.md)" in korean.split("\n\n")[1]
    for text in (english, korean):
        for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            assert (ROOT / picture).is_file(), f"{picture} is shown but does not exist"


def test_every_link_to_a_file_of_the_repository_exists():
    """README links (and the docs' links) to files inside the repository name files that are there."""
    for page in [ROOT / "README.md", ROOT / "README.ko.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def test_the_command_parser_by_hand():
    """commands() on a small Markdown text: comments stripped, continuations joined, prose ignored."""
    import tempfile
    from pathlib import Path
    text = "python outside.py\n```bash\npython a.py --x 1   # comment\ntorchrun --n 2 \\\n    b.py  # two lines\n" \
           "echo not a command\n```\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.md"
        path.write_text(text, encoding="utf-8")
        assert commands(path) == {"python a.py --x 1", "torchrun --n 2 b.py"}


def test_the_serve_pages_agree_link_each_other_and_show_a_small_screenshot():
    """docs/serve.md and docs/serve.ko.md: the same commands, links to each other, and figures/serve.png under
    300 kB (a screenshot, not a photograph)."""
    english, korean = ROOT / "docs" / "serve.md", ROOT / "docs" / "serve.ko.md"
    assert commands(english) == commands(korean), commands(english) ^ commands(korean)
    assert "python serve.py" in commands(english)
    assert "(serve.ko.md)" in english.read_text(encoding="utf-8") and "(serve.md)" in korean.read_text(encoding="utf-8")
    for path in (english, korean):
        for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text(encoding="utf-8")):
            assert (path.parent / picture).is_file(), f"{path.name} shows {picture}, which does not exist"
            assert (path.parent / picture).stat().st_size < 300_000, f"{picture} is over 300 kB"
