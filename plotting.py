"""Front-door helper for pictures: matplotlib drawing to files only, and a font that can draw Hangul.

matplotlib is optional: it is imported here, lazily, by the doors that draw (explain.py), never at import time.

    from plotting import pyplot, hangul_font, romanize, save
    python -m pytest tests/test_explain.py
"""
from pathlib import Path

# Fonts that hold Hangul, tried first by name; then any installed font whose character map has Hangul.
KOREAN_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "AppleGothic", "UnDotum")
# Revised Romanization of the dialect groups, for labels drawn without a Hangul font.
ROMANIZED = {"수도권": "Sudogwon", "강원": "Gangwon", "충청": "Chungcheong", "전라": "Jeolla", "경상": "Gyeongsang",
             "제주": "Jeju"}
HANGUL_PROBE = "가힣"  # the first and last Hangul syllables (U+AC00, U+D7A3): a font with both draws them all
DPI = 100  # pixels per inch of every saved PNG: small files, still readable on a slide


def pyplot():
    """matplotlib.pyplot with the Agg backend (files only, no window).

    Raises ImportError("needs matplotlib: pip install matplotlib") where matplotlib is not installed.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("needs matplotlib: pip install matplotlib") from None
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


def romanize(text):
    """text with every dialect-group name of ROMANIZED replaced by its romanization: "(female, 경상)" ->
    "(female, Gyeongsang)"."""
    for hangul, latin in ROMANIZED.items():
        text = text.replace(hangul, latin)
    return text


def save(fig, path):
    """Write `fig` as a 256-colour PNG at DPI, and close it. Creates the folder.

    Plots hold few colours, so a palette (PIL's fast octree quantiser; Pillow comes with matplotlib) looks the
    same at about a third of the size of matplotlib's RGBA file. No matplotlib-version stamp is written.
    """
    import io
    import matplotlib.pyplot as plt
    from PIL import Image
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    image = Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="png", optimize=True)
