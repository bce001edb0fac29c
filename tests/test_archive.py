"""corpora/archive.py and the readers built on it (data.load_audio, scale/cache.file_identity, describe.duration_s,
corpora/text.read_text) on small zip archives written here: members are compared with the bytes and samples that
went in, and every damaged archive must end in one line naming archive and member."""
import io
import os
import zipfile

import numpy as np
import pytest
import soundfile as sf

from corpora import archive
from corpora.describe import duration_s
from data import AudioError, load_audio
from scale.cache import file_identity
from corpora.text import read_json, read_text

SR = 16000  # Hz


def wav_bytes(seconds=0.5, f0_hz=440.0):
    buffer = io.BytesIO()
    t = np.arange(int(SR * seconds)) / SR
    sf.write(buffer, 0.25 * np.sin(2 * np.pi * f0_hz * t), SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def zipped(tmp_path):
    """[원천]음성.zip with a WAV in a Korean folder, a JSON label, a folder entry and a Windows-style name."""
    path = tmp_path / "[원천]음성 데이터.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("원천/서울/clip_1.wav", wav_bytes())
        zf.writestr("라벨/clip_1.json", '{"a": "경상"}'.encode("utf-8-sig"))
        zf.writestr("원천/빈 폴더/", b"")
        zf.writestr("windows\\style\\clip_2.wav", wav_bytes(0.25))
    return path


def test_member_names_and_notation(zipped):
    assert archive.member_names(zipped) == ["windows/style/clip_2.wav", "라벨/clip_1.json", "원천/서울/clip_1.wav"]
    name = f"{zipped}::원천/서울/clip_1.wav"
    assert archive.split_member(name) == (str(zipped), "원천/서울/clip_1.wav")
    assert archive.split_member("/data/x.wav") is None
    assert archive.split_member("/a/b.ZIP::c\\d.wav") == ("/a/b.ZIP", "c/d.wav")
    assert archive.read_member(name) == wav_bytes()


def test_audio_text_and_json_from_members(zipped):
    y = load_audio(f"{zipped}::원천/서울/clip_1.wav")
    expected = sf.read(io.BytesIO(wav_bytes()), dtype="float32")[0]
    assert y.shape == (SR // 2,) and np.max(np.abs(y - expected)) < 1e-7
    assert duration_s({"path": f"{zipped}::windows/style/clip_2.wav"}) == pytest.approx(0.25, abs=1e-9)
    assert read_text(f"{zipped}::라벨/clip_1.json") == '{"a": "경상"}'  # the BOM is dropped
    assert read_json(f"{zipped}::라벨/clip_1.json") == {"a": "경상"}


def test_file_identity_of_a_member(zipped):
    name = f"{zipped}::원천/서울/clip_1.wav"
    identity = file_identity(name)
    info = zipfile.ZipFile(zipped).getinfo("원천/서울/clip_1.wav")
    stat = os.stat(zipped)
    assert identity == {"path": name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                        "member": "원천/서울/clip_1.wav", "crc": info.CRC, "member_size": len(wav_bytes())}
    with zipfile.ZipFile(zipped, "a") as zf:  # another member added: the archive changes, so does the key
        zf.writestr("extra.txt", b"x")
    assert file_identity(name)["size"] != identity["size"]


def test_missing_member_and_missing_archive(zipped):
    with pytest.raises(AudioError) as info:
        load_audio(f"{zipped}::원천/서울/nope.wav")
    assert str(info.value) == f"{zipped}::원천/서울/nope.wav: no member '원천/서울/nope.wav' in {zipped}"
    gone = zipped.with_name("gone.zip")
    with pytest.raises(AudioError, match=f"{gone}: archive not found"):
        load_audio(f"{gone}::a.wav")
    with pytest.raises(FileNotFoundError, match=f"{gone}: archive not found"):
        read_text(f"{gone}::a.txt")


def test_corrupt_archive_and_bad_crc_are_one_line(zipped, tmp_path):
    blob = zipped.read_bytes()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(blob[: len(blob) // 2])  # truncated: no central directory
    with pytest.raises(AudioError) as info:
        load_audio(f"{broken}::원천/서울/clip_1.wav")
    assert str(info.value).startswith(f"{broken}: not a readable zip archive (BadZipFile") and "\n" not in str(info.value)
    stored = tmp_path / "stored.zip"  # uncompressed, so one flipped byte reaches the CRC check
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.wav", wav_bytes())
    blob = bytearray(stored.read_bytes())
    blob[200] ^= 0xFF  # inside a.wav's samples
    stored.write_bytes(bytes(blob))
    with pytest.raises(AudioError) as info:
        load_audio(f"{stored}::a.wav")
    assert str(info.value) == f"{stored}::a.wav: unreadable member (BadZipFile: Bad CRC-32 for file 'a.wav')"
    with pytest.raises(archive.ArchiveError, match=r"stored\.zip::a\.wav: unreadable member"):
        read_text(f"{stored}::a.wav")


def test_a_replaced_archive_is_reopened(tmp_path):
    path = tmp_path / "a.zip"
    for content in (b"first", b"second!"):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("t.txt", content)
        os.utime(path, ns=(len(content), len(content)))  # a different mtime for each version
        assert read_text(f"{path}::t.txt") == content.decode()


def test_forked_workers_read_members_with_their_own_archive_handle(tmp_path):
    """A process pool (fork, as the feature cache uses): each worker must open the archive itself; sharing the
    parent's file offset would mix members up. The samples must equal those read in this process."""
    import multiprocessing
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(64):  # enough reads for the two workers' seeks and reads to interleave
            zf.writestr(f"c{i}.wav", wav_bytes(1.0, 150.0 + 5 * i))
    names = [f"{path}::c{i}.wav" for i in range(64)]
    here = [load_audio(name) for name in names]  # the parent holds an open handle before the pool forks
    with multiprocessing.get_context("fork").Pool(2) as pool:
        there = pool.map(load_audio, names, chunksize=1)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(here, there))
    assert diff < 1e-7, f"largest difference {diff}"
