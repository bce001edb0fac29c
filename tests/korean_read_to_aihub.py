"""Turn Deeply's Korean Read Speech Corpus (openslr.org/97: pairs of speakers reading a script in turns, 16 kHz,
its JSON naming each speaker's age and sex) into AI Hub 한국어 방언 발화 label files: per recording place one
dialogue WAV of the pair's turns, back to back with 0.25 s of silence between them, and a JSON with speaker[]
and utterance[] (start, end in seconds), the layout corpora/aihub_layouts.py reads as (d).

The corpus gives no region, so principal_residence is left empty (dialect unknown). Only the first
`turns` clips of each place are used, alternating as the corpus recorded them.

    python tests/korean_read_to_aihub.py CORPUS/dataset OUT/ [--turns 6]
"""
import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

GAP_S = 0.25  # seconds of silence between two turns
SEX = {0: "여성", 1: "남성"}  # the corpus's sex codes (its README: the sample's two speakers, both women, are 0)


def corpus_json(root):
    """The corpus's label JSON under root (Korean_Read_Speech_Corpus.json, or the sample's *_sample.json)."""
    found = sorted(Path(root).glob("Korean_Read_Speech_Corpus*.json"))
    if not found:
        raise FileNotFoundError(f"{root}: no Korean_Read_Speech_Corpus*.json (is it the corpus's dataset folder?)")
    return found[0]


def convert(root, out, turns=6):
    """Write OUT/<place>.wav and OUT/<place>.json per recording place; returns {clip id: (place, start s,
    end s)}, where each original clip now lies inside its place's dialogue."""
    root, out = Path(root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    where = {}
    for place, clips in json.loads(corpus_json(root).read_text(encoding="utf-8")).items():
        chosen = [c for c in sorted(clips) if (root / place / f"{c}.wav").is_file()][:turns]
        audio, speakers, utterances, t, sr = [], {}, [], 0.0, None
        for clip in chosen:
            info = clips[clip]
            y, clip_sr = sf.read(root / place / f"{clip}.wav", dtype="float32")  # (N,) mono
            assert sr in (None, clip_sr), f"{clip}: {clip_sr} Hz in a {sr} Hz dialogue"
            sr = clip_sr
            who = f"{info['subjectID']}{info['speaker']}"  # e.g. sub1001a: one person across all places
            speakers[who] = {"id": who, "age": f"{int(info['age']) // 10 * 10}대", "sex": SEX.get(info["sex"], ""),
                             "birthplace": "", "principal_residence": "", "current_residence": ""}
            utterances.append({"id": clip, "form": info["text"], "standard_form": info["text"],
                               "dialect_form": info["text"], "speaker_id": who, "start": round(t, 6),
                               "end": round(t + len(y) / sr, 6)})
            where[clip] = (place, t, t + len(y) / sr)
            audio += [y, np.zeros(int(GAP_S * sr), np.float32)]
            t += len(y) / sr + GAP_S
        sf.write(out / f"{place}.wav", np.concatenate(audio), sr, subtype="PCM_16")
        doc = {"id": place, "speaker": list(speakers.values()), "utterance": utterances}
        (out / f"{place}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return where


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="the corpus's dataset folder (Korean_Read_Speech_Corpus*.json + places)")
    parser.add_argument("out", help="folder for the dialogue WAVs and AI Hub label JSON")
    parser.add_argument("--turns", type=int, default=6, help="clips per recording place (default 6)")
    args = parser.parse_args()
    print(f"wrote {len(convert(args.corpus, args.out, args.turns))} utterances to {args.out}")
