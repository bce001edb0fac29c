"""Figures: what every figure needs -- matplotlib only when asked for, a font for Hangul, small PNG files.

matplotlib is optional (no test in CI needs it): `pyplot()` imports it with the file-only Agg backend, or raises
ValueError "needs matplotlib: pip install matplotlib". Korean names (dialect groups, AI Hub fields, the Korean
figure labels) need a font with Hangul: `hangul_font()` finds one by name or by its character map; without
one, `plot_labels` romanises (`romanize`: Revised Romanization of Korean, 2000, letter by letter, without the
sound-change rules; the six dialect groups keep their usual spellings). Never a crash. corpora/describe.py,
extras/explain.py and `evaluate.py --plot` (plot_run) draw with these.

    from extras.plots import pyplot, plot_labels, save
    python -m pytest tests/test_describe.py tests/test_explain.py
"""
import csv
import io
import re
from pathlib import Path

from scale.files import atomic_write

# Fonts that hold Hangul, tried first by name; then any installed font whose character map has Hangul.
KOREAN_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "AppleGothic", "UnDotum")
ROMANIZED = {"수도권": "Sudogwon", "강원": "Gangwon", "충청": "Chungcheong", "전라": "Jeolla", "경상": "Gyeongsang",
             "제주": "Jeju"}  # the dialect groups as usually spelt (전라: Jeolla, not letter-by-letter Jeonra)
HANGUL_PROBE = "가힣"  # the first and last Hangul syllables (U+AC00, U+D7A3): a font with both draws them all
DPI = 100  # pixels per inch of every saved PNG: small files, still readable on a slide

# Revised Romanization, one Hangul syllable = initial + vowel + final (Unicode: 0xAC00 + (i*21 + v)*28 + f)
INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
VOWELS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
          "yu", "eu", "ui", "i")
FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t",
          "ng", "t", "t", "k", "t", "p", "t")  # a final consonant as heard at the end of a word
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3  # 가 .. 힣: the 11,172 precomposed syllables


def romanize(text):
    """Hangul syllables in `text` -> Latin letters ("경상남도" -> "Gyeongsangnamdo"); other characters kept; the
    dialect groups of ROMANIZED by their usual spelling wherever they stand ("(female, 경상)" -> "(female,
    Gyeongsang)")."""
    for hangul, latin in ROMANIZED.items():
        text = text.replace(hangul, latin)
    out = []
    for char in text:
        code = ord(char) - HANGUL_FIRST
        if 0 <= code <= HANGUL_LAST - HANGUL_FIRST:
            initial, rest = divmod(code, 21 * 28)
            vowel, final = divmod(rest, 28)
            out.append(INITIALS[initial] + VOWELS[vowel] + FINALS[final])
        else:
            out.append(char)
    latin = "".join(out)
    return latin[:1].upper() + latin[1:] if re.match(r"[\uac00-\ud7a3]", text) else latin


def pyplot():
    """matplotlib.pyplot with the Agg backend (files only, no window); ValueError when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("needs matplotlib: pip install matplotlib") from None
    return plt


def _draws_hangul(path):
    """True when the font file at `path` draws each character of HANGUL_PROBE with a glyph of its own."""
    from matplotlib.ft2font import FT2Font
    try:
        charmap = FT2Font(str(path)).get_charmap()  # {code point: glyph index}
    except (OSError, RuntimeError, ValueError):  # an unreadable or unsupported font file
        return False
    glyphs = {charmap.get(ord(c)) for c in HANGUL_PROBE}
    # Two different glyphs, not one: matplotlib's own "Last Resort" font maps every Hangul syllable to the
    # same placeholder box.
    return None not in glyphs and len(glyphs) == len(HANGUL_PROBE)


def hangul_font():
    """The family name of an installed font that draws Hangul, or None where there is none.

    Tries KOREAN_FONTS by name in matplotlib's font list, then every system font file by its character map
    (this also finds a font installed after matplotlib built its font cache, and adds it to the list).
    """
    from matplotlib import font_manager
    manager = font_manager.fontManager
    listed = {font.name for font in manager.ttflist}
    name = next((n for n in KOREAN_FONTS if n in listed), None)
    if name:
        return name
    found = {}  # family name -> font file, for every font that draws Hangul
    for path in sorted({font.fname for font in manager.ttflist} | set(font_manager.findSystemFonts())):
        if _draws_hangul(path):
            found.setdefault(font_manager.FontProperties(fname=path).get_name(), path)
    if not found:
        return None
    name = next((n for n in KOREAN_FONTS if n in found), min(found))  # a well-known face first
    manager.addfont(found[name])  # register it (a second entry for an already listed font is harmless)
    return name


def plot_labels(names, plt):
    """Labels matplotlib can draw: Hangul when a Hangul font is installed (and selected), else romanised."""
    font = hangul_font()
    if font:
        plt.rcParams["font.family"] = [font, "DejaVu Sans"]
        return [str(name) for name in names]
    return [romanize(str(name)) for name in names]


def save(fig, path):
    """Write `fig` as a 256-colour PNG at DPI, atomically, and close it. Creates the folder.

    Plots hold few colours, so a palette (PIL's fast octree quantiser; Pillow comes with matplotlib) looks the
    same at about a third of the size of matplotlib's RGBA file. No matplotlib-version stamp is written.
    """
    import matplotlib.pyplot as plt
    from PIL import Image
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    image = Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    atomic_write(path, lambda f: image.save(f, format="png", optimize=True))  # creates the folder


def read_history(path):
    """history.csv as a list of dicts with float values."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_run(run_dir, split, matrices, true_names, predicted_names):
    """Training curves (curves.png) and one confusion matrix per task (confusion_<split>_<task>.png)."""
    import numpy as np

    plt = pyplot()
    run_dir = Path(run_dir)
    history = read_history(run_dir / "history.csv")
    epochs = [h["epoch"] for h in history]
    tasks = list(matrices)
    fig, axes = plt.subplots(1, 1 + len(tasks), figsize=(4 * (1 + len(tasks)), 3.5), squeeze=False)
    axes = axes[0]
    axes[0].plot(epochs, [h["loss"] for h in history])
    axes[0].set(title="training loss", xlabel="epoch")
    for ax, t in zip(axes[1:], tasks):
        for key, label in (("train_acc", "train (batches)"), ("val_acc", "val"), ("val_balanced_acc", "val bal")):
            ax.plot(epochs, [h[f"{t}_{key}"] for h in history], label=label)
        ax.set(title=t, xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
        ax.legend()
    fig.tight_layout()
    save(fig, run_dir / "curves.png")
    written = [run_dir / "curves.png"]
    for t, cm in matrices.items():
        fig, ax = plt.subplots(figsize=(1 + 0.6 * cm.shape[1], 1 + 0.6 * cm.shape[0]))
        ax.imshow(cm, cmap="Blues")
        for (i, j), c in np.ndenumerate(cm):
            ax.text(j, i, str(c), ha="center", va="center")
        ax.set(xticks=range(cm.shape[1]), yticks=range(cm.shape[0]), xlabel="predicted", ylabel="true",
               title=f"{t} ({split})")
        ax.set_xticklabels(plot_labels(predicted_names[t], plt), rotation=45)
        ax.set_yticklabels(plot_labels(true_names[t], plt))
        fig.tight_layout()
        save(fig, run_dir / f"confusion_{split}_{t}.png")
        written.append(run_dir / f"confusion_{split}_{t}.png")
    print("wrote " + ", ".join(str(p) for p in written))
