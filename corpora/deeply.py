"""The Deeply corpora adapter (Deeply Inc.'s Korean Read Speech Corpus and Parent-Child Vocal Interaction
Dataset): one JSON {room: {utterance: {subjectID, speaker, age, sex, device, distance, noise, ...}}} beside
<room>/<utterance>.wav -> manifest rows, one speaker per (subjectID, speaker letter).

CC BY-NC-ND 4.0: evaluate on them, do not train a released model on them. Both record the same people in several
rooms (and, in Parent-Child, on two devices), which is what a channel check needs: the same voice, other rooms.
sex 0 is female, 1 male; an utterance of two speakers at once (speaker "ab") is left out.

    python -m corpora deeply --root Korean-Read-Speech-Corpus/dataset --out korean_read.csv --age-bins ...
    python -m pytest tests/test_corpora.py
"""
from pathlib import Path

from corpora.labels import DECADES
from corpora.rows import labelled, make_row
from corpora.text import read_json

SEXES = {0: "female", 1: "male"}


def deeply_rows(root, bins=DECADES):
    """Rows of a Deeply dataset folder (the JSON and the room folders under root); every row's split is left
    empty (these corpora are for evaluation: `evaluate.py RUN --manifest X.csv --split all`)."""
    root = Path(root)
    tables = sorted(p for p in root.glob("*.json"))
    if not tables:
        raise FileNotFoundError(f"{root}: no JSON label file (is this a Deeply dataset folder?)")
    rows = []
    for table in tables:
        rooms = read_json(table)
        if not isinstance(rooms, dict):
            raise ValueError(f"{table}: expected {{room: {{utterance: labels}}}}")
        for room, utterances in rooms.items():
            for utt, rec in (utterances or {}).items():
                if not isinstance(rec, dict) or len(str(rec.get("speaker", ""))) != 1:
                    continue  # two speakers at once ("ab"), or not a record
                path = root / room / f"{utt}.wav"
                if rec.get("sex") not in SEXES:
                    raise ValueError(f"{table}: {room}/{utt}: sex {rec.get('sex')!r}, expected 0 (female) or 1 (male)")
                gender, age, years, _ = labelled(f"{table}: {room}/{utt}", SEXES[rec["sex"]], rec.get("age", ""), "",
                                                 bins, lambda v: "")
                rows.append(make_row(path, f"{rec.get('subjectID', '')}{rec['speaker']}", gender, age, "",
                                     source="deeply", age_years=years, room=room, device=str(rec.get("device", "")),
                                     distance=str(rec.get("distance", "")), noise=str(rec.get("noise", ""))))
    return [r for r in rows if Path(r["path"]).is_file()]
