"""Metrics: how good a profile is -- accuracy beside balanced accuracy, macro-F1, MAE, the confusion table.

Pure NumPy functions of class-index arrays (unknown labels already removed); they follow scikit-learn's
definitions, written out in each docstring.

    python -m pytest tests/test_metrics.py
"""
import unicodedata

import numpy as np


def confusion_matrix(y_true, y_pred, n_classes, n_predicted=None):
    """Counts C[i, j] = number of examples of true class i predicted as class j.

    y_true: int array (N,) in [0, n_classes); y_pred: int array (N,) in [0, n_predicted) (default n_classes).
    Returns int64 (n_classes, n_predicted), rows = true class, columns = predicted class (scikit-learn's
    convention). More rows than columns: true classes the model cannot answer (a cross-corpus label it never saw).
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((n_classes, n_classes if n_predicted is None else n_predicted), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)  # one count per (true, predicted) pair
    return cm


def accuracy(y_true, y_pred):
    """Fraction of examples predicted correctly: mean(y_pred == y_true). NaN for an empty set."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def balanced_accuracy(y_true, y_pred):
    """Mean per-class recall over the classes present in y_true: (1/K) sum_k TP_k / N_k.

    An always-the-same-class predictor scores exactly 1/K, whatever the class proportions; that is why
    early stopping and model choice use it on unbalanced data. NaN for an empty set.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(y_true)
    if len(classes) == 0:
        return float("nan")
    recalls = [np.mean(y_pred[y_true == k] == k) for k in classes]  # TP_k / N_k for each present class
    return float(np.mean(recalls))


def macro_f1(y_true, y_pred):
    """Unweighted mean of per-class F1 = 2 TP / (2 TP + FP + FN), over classes in y_true or y_pred.

    A class that never occurs and is never predicted does not count; one predicted but absent scores 0
    (scikit-learn's f1_score(average="macro") with zero_division=0). NaN for an empty set.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.union1d(y_true, y_pred)
    if len(classes) == 0:
        return float("nan")
    f1s = []
    for k in classes:
        tp = np.sum((y_pred == k) & (y_true == k))
        fp = np.sum((y_pred == k) & (y_true != k))
        fn = np.sum((y_pred != k) & (y_true == k))
        f1s.append(2 * tp / (2 * tp + fp + fn))  # denominator > 0: k occurs in y_true or y_pred
    return float(np.mean(f1s))


def mean_absolute_error(y_true, y_pred):
    """(1/N) sum |y_pred - y_true|, in the labels' unit (years for age_years). NaN for an empty set."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    return float(np.mean(np.abs(y_pred - y_true))) if len(y_true) else float("nan")


def majority_baseline(y_train, y_eval):
    """Accuracy on y_eval of always answering the most frequent class of y_train (ties: lowest index).

    The floor every model must beat: on a balanced 5-class task it is about 0.2, not 0.
    """
    y_train, y_eval = np.asarray(y_train, dtype=np.int64), np.asarray(y_eval, dtype=np.int64)
    if len(y_train) == 0 or len(y_eval) == 0:
        return float("nan")
    majority = np.argmax(np.bincount(y_train))
    return float(np.mean(y_eval == majority))


def confusion_table(cm, names, predicted_names=None):
    """The confusion matrix as aligned text: one row per true class (`names`), one column per predicted class
    (`predicted_names`, default the same)."""
    names = [str(n) for n in names]
    columns = names if predicted_names is None else [str(n) for n in predicted_names]
    corner = "true \\ pred"
    cell = max([display_width(n) for n in columns] + [len(str(cm.max())) if cm.size else 1])
    first = max([display_width(n) for n in names] + [len(corner)])
    lines = [pad(corner, first) + " " + " ".join(pad(n, cell, right=True) for n in columns)]
    for name, row in zip(names, cm):
        lines.append(pad(name, first) + " " + " ".join(pad(str(c), cell, right=True) for c in row))
    return "\n".join(lines)


def display_width(text):
    """Terminal columns taken by text: East Asian wide characters (Hangul, CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text, width, right=False):
    """text padded with spaces to `width` terminal columns (on the left when right=True)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill
