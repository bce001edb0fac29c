"""Metrics: how good a profile is -- accuracy beside balanced accuracy, macro-F1, MAE, the confusion matrix,
every task of a split scored at once (task_scores), and the one number model selection maximises.

Pure NumPy functions of class-index arrays (unknown labels already removed); they follow scikit-learn's
definitions, written out in each docstring.

    python -m pytest tests/test_metrics.py
"""
import math

import numpy as np


def confusion_matrix(y_true, y_pred, n_classes, n_predicted=None):
    """Counts C[i, j] = number of examples of true class i predicted as class j.

    y_true: int array (N,) in [0, n_classes); y_pred: int array (N,) in [0, n_predicted) (default n_classes).
    Returns int64 (n_classes, n_predicted), rows = true class, columns = predicted class (scikit-learn's
    convention). More rows than columns: true classes the model cannot answer (a cross-corpus label it never saw)."""
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
    early stopping and model choice use it on unbalanced data. NaN for an empty set."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(y_true)
    if len(classes) == 0:
        return float("nan")
    recalls = [np.mean(y_pred[y_true == k] == k) for k in classes]  # TP_k / N_k for each present class
    return float(np.mean(recalls))


def macro_f1(y_true, y_pred):
    """Unweighted mean of per-class F1 = 2 TP / (2 TP + FP + FN), over classes in y_true or y_pred.

    A class that never occurs and is never predicted does not count; one predicted but absent scores 0
    (scikit-learn's f1_score(average="macro") with zero_division=0). NaN for an empty set."""
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

    The floor every model must beat: on a balanced 5-class task it is about 0.2, not 0."""
    y_train, y_eval = np.asarray(y_train, dtype=np.int64), np.asarray(y_eval, dtype=np.int64)
    if len(y_train) == 0 or len(y_eval) == 0:
        return float("nan")
    majority = np.argmax(np.bincount(y_train))
    return float(np.mean(y_eval == majority))


def task_scores(outputs, labels, train_labels, tasks, vocabs):
    """Scores of utterance-level outputs against labels (float (n, n_tasks), NaN = unknown) -> {task: dict}.

    A classification task: acc, balanced_acc, macro_f1, and majority (the accuracy of always answering the
    training set's most frequent class). A numeric task: mae (mean absolute error, in its unit), baseline_mae
    (always answering the training median) and skill = max(0, 1 - mae / baseline_mae) -- 0 for a model no better
    than the constant, 1 for a perfect one, so it averages with balanced accuracies (selection_score).
    A split without known labels scores NaN."""
    scores = {}
    for i, task in enumerate(tasks):
        y, known = labels[:, i], ~np.isnan(labels[:, i])
        y_train = train_labels[:, i][~np.isnan(train_labels[:, i])]
        if vocabs[task] is None:
            pred = outputs[task][known] if task in outputs else np.zeros(0)
            mae = mean_absolute_error(y[known], pred)
            base = mean_absolute_error(y[known], np.full(known.sum(), np.median(y_train))) \
                if len(y_train) else math.nan
            scores[task] = {"mae": mae, "baseline_mae": base, "skill": max(0.0, 1.0 - mae / base) if base > 0 else math.nan}
        else:
            truth = y[known].astype(np.int64)
            pred = outputs[task][known].argmax(axis=1) if task in outputs else np.zeros(0, np.int64)
            scores[task] = {"acc": accuracy(truth, pred), "balanced_acc": balanced_accuracy(truth, pred),
                            "macro_f1": macro_f1(truth, pred),
                            "majority": majority_baseline(y_train.astype(np.int64), truth)}
    return scores


def scores_by_corpus(outputs, labels, train_labels, tasks, vocabs, corpus_of):
    """{corpus: task_scores of its clips alone} for a split of several corpora (python -m corpora merge's `corpus` column,
    corpus_of (n,) str); {} for one corpus."""
    names = sorted({str(c) for c in corpus_of} - {""})
    return {} if len(names) < 2 else {c: task_scores({t: o[corpus_of == c] for t, o in outputs.items()},
                                                     labels[corpus_of == c], train_labels, tasks, vocabs)
                                      for c in names}


def rounded(scores, digits=4):
    """Scores as JSON keeps them: 4 decimals (a table printed at 3 later asks for more), NaN (no clips) as null;
    nested dicts rounded all the way down."""
    if isinstance(scores, dict):
        return {k: rounded(v, digits) for k, v in scores.items()}
    return None if math.isnan(scores) else round(float(scores), digits)


def selection_score(scores):
    """The one number model selection and early stopping maximise: the mean over tasks of the balanced accuracy
    (classification) or the skill (numeric task); tasks without a score (NaN) are left out."""
    values = [s["balanced_acc"] if "balanced_acc" in s else s["skill"] for s in scores.values()]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan
