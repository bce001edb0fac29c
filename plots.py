"""Data floor: what every figure needs -- matplotlib imported only when asked for, and class names it can draw.

matplotlib is optional (no test in CI needs it): `pyplot()` imports it with the file-only Agg backend, or
raises ValueError "--plot needs matplotlib: pip install matplotlib". Korean class names (dialect groups,
AI Hub fields) need a font with Hangul: `plot_labels` switches to the first of KOREAN_FONTS that is
installed, else romanises the names (`romanize`: Revised Romanization of Korean, 2000, letter by letter,
without the sound-change rules; the six dialect groups keep their usual spellings). Never a crash.

    from plots import plot_labels, pyplot
    python -m pytest tests/test_describe.py
"""
import re

KOREAN_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "Malgun Gothic", "AppleGothic", "UnDotum")
ROMANIZED = {"수도권": "Sudogwon", "강원": "Gangwon", "충청": "Chungcheong", "전라": "Jeolla", "경상": "Gyeongsang",
             "제주": "Jeju"}  # the dialect groups as usually spelt (전라: Jeolla, not letter-by-letter Jeonra)

# Revised Romanization, one Hangul syllable = initial + vowel + final (Unicode: 0xAC00 + (i*21 + v)*28 + f)
INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
VOWELS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
          "yu", "eu", "ui", "i")
FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t",
          "ng", "t", "t", "k", "t", "p", "t")  # a final consonant as heard at the end of a word
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3  # 가 .. 힣: the 11,172 precomposed syllables


def romanize(text):
    """Hangul syllables in `text` -> Latin letters ("경상남도" -> "Gyeongsangnamdo"); other characters kept."""
    if text in ROMANIZED:
        return ROMANIZED[text]
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
    """matplotlib.pyplot with the Agg backend (files only, no window); ValueError when not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install matplotlib") from None
    return plt


def korean_font():
    """The first installed font of KOREAN_FONTS, or None."""
    from matplotlib import font_manager
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in KOREAN_FONTS if name in installed), None)


def plot_labels(names, plt):
    """Labels matplotlib can draw: Hangul when a Korean font is installed (and selected), else romanised."""
    font = korean_font()
    if font:
        plt.rcParams["font.family"] = [font, "DejaVu Sans"]
        return list(names)
    return [romanize(str(name)) for name in names]
