"""The RAVDESS adapter: the speech part of the Ryerson Audio-Visual Database of Emotional Speech and Song
(Livingstone & Russo 2018, PLoS ONE 13(5) e0196391; CC BY-NC-SA 4.0) -> manifest rows, one per clip.

24 professional actors (odd numbers male, even female), aged 21 to 33, each saying two statements ("Kids are
talking by the door", "Dogs are sitting by the door") twice in eight emotions: 60 speech clips per actor, 1,440 in
all, 48 kHz WAV in Actor_01/ ... Actor_24/. Every label is in the file name, seven two-digit fields
MODALITY-CHANNEL-EMOTION-INTENSITY-STATEMENT-REPETITION-ACTOR (the corpus README), e.g. 03-01-05-02-01-01-24.wav =
audio-only, speech, angry, strong, "kids", first repetition, actor 24 (female). Only speech is kept (channel 01,
modality 03); song files are skipped and counted, and so is a name that breaks the convention, in one line each.

Speaker labels: gender from the actor number; age = the --age-bins bin that holds all of 21-33 ("adult" with
child:0-12,teen:13-17,adult:18-59,senior:60-; unknown when the range straddles bins, as with decades); age_years is
empty, since per-actor ages are not published. Per-clip columns, never voted on as speaker labels
(data.PER_CLIP_COLUMNS): `emotion`, `intensity` (neutral has no strong take), `statement` ("kids", "dogs"; the sentence
is in `text`), `repetition` ("1", "2"), so that a model can be scored per condition.

    python -m corpora ravdess --root RAVDESS/Audio_Speech_Actors_01-24 --out ravdess.csv \
        --age-bins child:0-12,teen:13-17,adult:18-59,senior:60-
    python -m pytest tests/test_ravdess.py
"""
import re
import warnings
from collections import Counter
from pathlib import Path

from corpora.labels import DECADES, years_per_bin
from corpora.rows import make_row

ACTOR_AGES = (21, 34)  # years [lo, hi): the actors were 21 to 33 (Livingstone & Russo 2018, Methods)
N_ACTORS = 24
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")  # codes 01 .. 08
INTENSITIES = ("normal", "strong")  # 01, 02
STATEMENTS = (("kids", "Kids are talking by the door"), ("dogs", "Dogs are sitting by the door"))  # 01, 02
AUDIO_ONLY, SPEECH = 3, 1  # modality 03 = audio-only (01 full AV, 02 video-only); vocal channel 01 (02 = song)
NAME = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav", re.IGNORECASE)
CONVENTION = "MODALITY-CHANNEL-EMOTION-INTENSITY-STATEMENT-REPETITION-ACTOR.wav, e.g. 03-01-05-02-01-01-24.wav"


def parse_name(path):
    """The labels in a RAVDESS file name -> dict(modality, channel, emotion, intensity, statement, repetition,
    actor), codes as ints; ValueError saying which field breaks the convention (the README's ranges)."""
    path = Path(path)
    m = NAME.fullmatch(path.name)
    if not m:
        raise ValueError("not seven two-digit fields")
    fields = dict(zip(("modality", "channel", "emotion", "intensity", "statement", "repetition", "actor"),
                      map(int, m.groups())))
    highest = dict(modality=3, channel=2, emotion=len(EMOTIONS), intensity=2, statement=2, repetition=2,
                   actor=N_ACTORS)
    for field, top in highest.items():
        if not 1 <= fields[field] <= top:
            raise ValueError(f"{field} {fields[field]:02d} outside 01-{top:02d}")
    if fields["emotion"] == 1 and fields["intensity"] == 2:
        raise ValueError("neutral with strong intensity, which the corpus does not have")
    folder = re.fullmatch(r"actor_(\d+)", path.parent.name, re.IGNORECASE)
    if folder and int(folder[1]) != fields["actor"]:
        raise ValueError(f"actor {fields['actor']:02d} in a folder of actor {int(folder[1]):02d}")
    return fields


def actor_age_group(bins):
    """The bin of `bins` that holds every actor's age (21-33 years), or "" when the range straddles bins."""
    counts = years_per_bin(*ACTOR_AGES, bins)  # {bin: years of 21..33 in it}
    return next(iter(counts)) if len(counts) == 1 else ""


def _in_actor_folder(path):
    return re.fullmatch(r"actor_\d+", path.parent.name, re.IGNORECASE) is not None


def ravdess_rows(root, bins=DECADES):
    """Rows of the RAVDESS speech clips under root (every *.wav, in path order, Actor_NN/ folders first; a second
    file of the same name, such as the copies some downloads sort into emotion folders, is skipped and counted).
    Splits are left empty."""
    paths = sorted((p for p in Path(root).rglob("*") if p.suffix.lower() == ".wav"),
                   key=lambda p: (not _in_actor_folder(p), str(p)))
    age = actor_age_group(bins)
    rows, seen, skipped, first = [], set(), Counter(), {}  # skipped: reason -> files; first: reason -> example
    for path in paths:
        reason, example = None, str(path)
        if not path.is_file():
            reason = "no readable file: a folder, or a link to nothing"
        else:
            try:
                fields = parse_name(path)
            except ValueError as err:
                reason, example = f"names that break RAVDESS's naming convention, {CONVENTION}", f"{path} ({err})"
            else:
                if (fields["modality"], fields["channel"]) != (AUDIO_ONLY, SPEECH):
                    reason = "song or video, not audio-only speech (03-01-...)"
                elif path.name.lower() in seen:
                    reason = "a second copy of a file name"
        if reason:
            skipped[reason] += 1
            first.setdefault(reason, example)
            continue
        seen.add(path.name.lower())
        actor, (statement, sentence) = fields["actor"], STATEMENTS[fields["statement"] - 1]
        rows.append(make_row(path, f"actor{actor:02d}", "male" if actor % 2 else "female", age, "",
                             source="ravdess", text=sentence, age_years="",
                             emotion=EMOTIONS[fields["emotion"] - 1], intensity=INTENSITIES[fields["intensity"] - 1],
                             statement=statement, repetition=str(fields["repetition"])))
    for reason, count in skipped.items():
        warnings.warn(f"ravdess: skipped {count} of {len(paths)} *.wav ({reason}), e.g. {first[reason]}")
    if rows and not age:
        warnings.warn(f"ravdess: the actors' ages, {ACTOR_AGES[0]}-{ACTOR_AGES[1] - 1}, straddle bins of --age-bins "
                      f"({', '.join(years_per_bin(*ACTOR_AGES, bins))}): age left unknown")
    return rows
