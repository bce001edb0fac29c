"""metrics.py against values worked out by hand.

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

import metrics
from scale import tables

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
    for score in (metrics.accuracy(y, y), metrics.balanced_accuracy(y, y), metrics.macro_f1(y, y)):
        assert score == pytest.approx(1.0, abs=1e-12)


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
    text = tables.confusion_table(cm, ["20s", "30s", "경상"])
    lines = text.splitlines()
    assert len(lines) == 4  # header + one row per true class
    assert "경상" in lines[0] and lines[3].startswith("경상")
    assert len({tables.display_width(line) for line in lines}) == 1, "columns line up (Hangul is two columns wide)"
    assert lines[1].split()[-3:] == ["2", "1", "0"]


def test_mean_absolute_error_by_hand():
    assert metrics.mean_absolute_error([20, 30, 41], [25, 30, 40]) == pytest.approx((5 + 0 + 1) / 3)
    assert np.isnan(metrics.mean_absolute_error([], []))


def test_a_rectangular_confusion_matrix_for_classes_the_model_never_saw():
    """Cross-corpus: true class 2 exists only in the other corpus; the model answers classes 0 and 1."""
    cm = metrics.confusion_matrix([0, 1, 2, 2], [0, 0, 1, 0], 3, 2)
    assert cm.tolist() == [[1, 0], [1, 0], [1, 1]]
    text = tables.confusion_table(cm, ["male", "female", "child"], ["male", "female"])
    assert text.splitlines()[0].split()[-2:] == ["male", "female"] and text.splitlines()[3].startswith("child")
