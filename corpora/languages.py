"""Language families of Common Voice's language codes, so that scores can be read per family ("does the gender
head hold up on Turkic voices?") and not only per language, most of which have a few dozen speakers.

The classification is Glottolog's (Hammarström, Forkel, Haspelmath & Bank, Glottolog 5.0, 2024, glottolog.org):
its top-level families (Glottolog's own names: Atlantic-Congo rather than Niger-Congo, Mongolic-Khitan, Tai-Kadai),
with Indo-European, the family of half the codes, cut at its conventional branches (Germanic, Romance, Slavic,
Baltic, Indo-Iranian, Celtic, Greek), which Glottolog and Ethnologue both recognise. Glottolog counts a language
isolate as a family of one (Basque) and files constructed languages (Esperanto, Interlingua) under "artificial
language", no family: here `constructed`. Names are snake_case, safe in CSV cells and file names.

    python -m corpora commonvoice --root cv-corpus-6.1/ --out cv.csv     # every language folder: language_family
    python -m pytest tests/test_corpora.py
"""

# family -> Common Voice language codes (the folder names of a release, locale with region where CV has one)
FAMILIES = {
    "ie_germanic": "de en fy-NL nl sv-SE",
    "ie_romance": "ca es fr it pt ro rm-sursilv rm-vallader",  # rm-*: two written varieties of Romansh
    "ie_slavic": "cs hsb pl ru sl uk be bg sk sr",  # hsb = Upper Sorbian
    "ie_baltic": "lt lv",
    "ie_indo_iranian": "as dv fa hi or pa-IN",  # dv = Dhivehi, or = Odia: Indo-Aryan; fa = Persian: Iranian
    "ie_celtic": "br cy ga-IE",
    "ie_greek": "el",
    "turkic": "cv ky sah tr tt",  # cv = Chuvash (the language, not "Common Voice"), sah = Sakha (Yakut)
    "uralic": "et fi hu vot",  # vot = Votic
    "sino_tibetan": "cnh zh-CN zh-HK zh-TW",  # cnh = Hakha Chin; zh-HK is mostly Cantonese
    "afro_asiatic": "ar kab mt",  # kab = Kabyle (Berber); mt = Maltese (Semitic)
    "austronesian": "id",
    "austroasiatic": "vi",
    "tai_kadai": "th",
    "dravidian": "ta",
    "mongolic": "mn",  # Glottolog: Mongolic-Khitan
    "kartvelian": "ka",
    "basque": "eu",  # an isolate
    "japonic": "ja",
    "atlantic_congo": "lg rw",  # Luganda, Kinyarwanda (Bantu)
    "abkhaz_adyge": "ab",  # Abkhaz (Northwest Caucasian)
    "constructed": "eo ia",  # Esperanto, Interlingua: Glottolog's "artificial languages", no family
}
FAMILY_OF = {code: family for family, codes in FAMILIES.items() for code in codes.split()}


def language_family(code):
    """The family of a Common Voice language code ("fy-NL" -> "ie_germanic"); "" for a code not in FAMILIES."""
    return FAMILY_OF.get(code, "")
