"""runs.py metrics against values worked out by hand, and the atomic writers.

The worked example (3 classes, 6 examples):
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    confusion (rows true, columns predicted) = [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    accuracy          = 4/6
    recall per class  = 2/3, 1/2, 1/1      -> balanced accuracy = (2/3 + 1/2 + 1) / 3 = 13/18
    F1 per class      = 2TP/(2TP+FP+FN) = 4/5, 2/4, 2/3 -> macro-F1 = 59/90
"""
import numpy as np
import pytest
import torch

import files
import metrics
import runs

Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_confusion_matrix_by_hand():
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED, 3)
    expected = np.array([[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert np.array_equal(cm, expected), f"\n{cm}\n!=\n{expected}"
    assert cm.sum() == len(Y_TRUE)


def test_confusion_matrix_counts_unpredicted_class_as_zero_column():
    cm = metrics.confusion_matrix([0, 1, 1], [0, 0, 0], 4)
    assert cm.shape == (4, 4)
    assert np.array_equal(cm[:, 0], [1, 2, 0, 0]) and cm[:, 1:].sum() == 0


def test_accuracy_by_hand():
    assert metrics.accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)


def test_balanced_accuracy_by_hand():
    assert metrics.balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx(13 / 18)


def test_macro_f1_by_hand():
    assert metrics.macro_f1(Y_TRUE, Y_PRED) == pytest.approx(59 / 90)


def test_perfect_predictions_score_one():
    y = [2, 0, 1, 1, 0]
    assert metrics.accuracy(y, y) == metrics.balanced_accuracy(y, y) == metrics.macro_f1(y, y) == 1.0


@pytest.mark.parametrize("n_classes", [2, 5, 6])
def test_always_majority_has_balanced_accuracy_one_over_k(n_classes):
    """A constant predictor scores 1/K balanced accuracy whatever the class proportions."""
    rng = np.random.default_rng(n_classes)
    y_true = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, 50), np.zeros(40, int)])
    majority = np.argmax(np.bincount(y_true))
    y_pred = np.full_like(y_true, majority)
    assert metrics.balanced_accuracy(y_true, y_pred) == pytest.approx(1 / n_classes)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(np.mean(y_true == majority))
    assert metrics.accuracy(y_true, y_pred) > 1 / n_classes  # plain accuracy is fooled by imbalance


def test_majority_baseline_uses_training_labels():
    # training majority is class 1; on the evaluation set 2 of 4 are class 1
    assert metrics.majority_baseline([1, 1, 1, 0, 2], [1, 0, 1, 2]) == pytest.approx(0.5)
    # ties go to the lowest index: class 0
    assert metrics.majority_baseline([0, 1], [0, 0, 1]) == pytest.approx(2 / 3)


def test_empty_sets_give_nan_not_an_error():
    for metric in (metrics.accuracy, metrics.balanced_accuracy, metrics.macro_f1):
        assert np.isnan(metric([], []))
    assert np.isnan(metrics.majority_baseline([], [1]))


def test_confusion_table_lists_every_class_and_count():
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED, 3)
    text = metrics.confusion_table(cm, ["20s", "30s", "경상"])
    lines = text.splitlines()
    assert len(lines) == 4  # header + one row per true class
    assert "경상" in lines[0] and lines[3].startswith("경상")
    assert len({files.display_width(line) for line in lines}) == 1, "columns line up (Hangul is two columns wide)"
    assert lines[1].split()[-3:] == ["2", "1", "0"]


def test_save_checkpoint_and_json_are_atomic_and_leave_no_temporary_files(tmp_path):
    runs.save_checkpoint({"w": torch.arange(3)}, tmp_path / "last.pt")
    runs.save_json({"dialect": ["경상", "제주"]}, tmp_path / "config.json")
    assert torch.equal(torch.load(tmp_path / "last.pt")["w"], torch.arange(3))
    assert runs.load_json(tmp_path / "config.json") == {"dialect": ["경상", "제주"]}
    assert "경상" in (tmp_path / "config.json").read_text(encoding="utf-8")  # not \\uXXXX escapes

    def interrupted(f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(tmp_path / "last.pt", interrupted)
    assert torch.equal(torch.load(tmp_path / "last.pt")["w"], torch.arange(3)), "old file must survive"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "last.pt"]


def test_history_rows_round_trip(tmp_path):
    path = tmp_path / "history.csv"
    runs.append_history(path, {"epoch": 1, "loss": 0.5})
    runs.append_history(path, {"epoch": 2, "loss": 0.25})
    assert runs.read_history(path) == [{"epoch": 1.0, "loss": 0.5}, {"epoch": 2.0, "loss": 0.25}]


def test_load_run_names_an_unreadable_checkpoint(tmp_path):
    (tmp_path / "best.pt").write_bytes(b"garbage\n")
    with pytest.raises(ValueError, match="best.pt: not a moksori checkpoint"):
        runs.load_run(tmp_path)


def test_history_is_rewritten_atomically_row_by_row(tmp_path, monkeypatch):
    """A failure while writing a row leaves the earlier rows intact and no temporary file."""
    path = tmp_path / "history.csv"
    runs.append_history(path, {"epoch": 1, "loss": 0.5})

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        runs.append_history(path, {"epoch": 2, "loss": 0.25})
    assert runs.read_history(path) == [{"epoch": 1.0, "loss": 0.5}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]


def test_load_run_names_the_missing_folder_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        runs.load_run(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="best.pt or last.pt"):
        runs.load_run(tmp_path)


class EdgeFramesModel(torch.nn.Module):
    """logits = log([a, 1 - a]) with a = mean of the window's first and last value: softmax gives [a, 1 - a]."""

    def forward(self, x):
        a = 0.5 * (x[:, 0, 0, 0] + x[:, 0, 0, -1]).double()  # (B,)
        return {"gender": torch.log(torch.stack([a, 1 - a], dim=1))}  # (B, 2)


def test_predict_clips_averages_the_windows_of_each_clip():
    """Clip 0: 400 frames of 0.2 then 200 of 0.6 -> windows [0, 400) with a = 0.2 and, aligned with the end,
    [200, 600) with a = (0.2 + 0.6) / 2 = 0.4 -> p(class 0) = (0.2 + 0.4) / 2 = 0.3.
    Clip 1: 401 frames of 0.9 -> two windows, both 0.9 -> 0.9 (a 1-frame tail does not drag it to padding).
    Clip 2: 50 frames of 0.7, shorter than a window, so zero-padded: a = (0.7 + 0) / 2 = 0.35.
    batch_size=2 splits clips across batches."""
    L = 400  # frames per window for "mfcc"
    clips = [np.concatenate([np.full((3, 13, 400), 0.2), np.full((3, 13, 200), 0.6)], axis=-1),
             np.full((3, 13, 401), 0.9), np.full((3, 13, 50), 0.7)]
    probs = runs.predict_clips(EdgeFramesModel(), [c.astype(np.float32) for c in clips], "mfcc", batch_size=2)
    expected = np.array([0.3, 0.9, 0.35])
    assert probs["gender"].shape == (3, 2)
    worst = np.max(np.abs(probs["gender"][:, 0] - expected))
    assert worst < 1e-6, f"largest difference {worst:.2g}: {probs['gender'][:, 0]} vs {expected} (L = {L})"
    assert np.allclose(probs["gender"].sum(axis=1), 1.0)
