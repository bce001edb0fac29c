"""Models with heads (mtl.py): shapes, input validation, overfitting one batch, the masked loss, the cascade.

The overfit test is the first training test of any teaching codebase: if a model cannot drive the loss to
near zero on eight examples, nothing else about its training can be trusted.
"""
import pytest
import torch
import torch.nn.functional as F

from mtl import (MODELS, MULTI_TASK, build_model, count_parameters, multitask_loss, valid_inputs)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: tiny tensors run fastest on one thread

SHAPES = {"mfcc_f0": (3, 14), "mfcc": (3, 13), "mel": (1, 64), "raw": (1,)}  # features.input_shape
LENGTH = {"mfcc_f0": 100, "mfcc": 100, "mel": 100, "raw": 16000}  # frames / samples: 1 s, short for speed
ALL_TASKS = {"age": 5, "gender": 2, "dialect": 6}  # classes per task in the built-in corpus
PAIRS = [(name, kind) for name in MODELS for kind in valid_inputs(name)]


def tasks_of(name):
    return ALL_TASKS if name in MULTI_TASK else {"dialect": 6}


def random_batch(kind, n_classes, B=8, length=None):
    x = torch.randn(B, *SHAPES[kind], length or LENGTH[kind])  # (B, *in_shape, L)
    y = torch.stack([torch.randint(0, n, (B,)) for n in n_classes.values()], dim=1)  # (B, n_tasks)
    return x, y


@pytest.mark.parametrize("name,kind", PAIRS)
def test_forward_backward_shapes(name, kind):
    torch.manual_seed(0)
    n_classes = tasks_of(name)
    model = build_model(name, kind, n_classes)
    x, y = random_batch(kind, n_classes, B=4)
    logits = model(x)
    assert set(logits) == set(n_classes)
    for task, n in n_classes.items():
        assert logits[task].shape == (4, n), f"{name}/{kind}/{task}: {tuple(logits[task].shape)}"
    total, _ = multitask_loss(logits, y, list(n_classes))
    total.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads), f"{name}/{kind}: missing/NaN grad"


@pytest.mark.parametrize("name", MODELS)
def test_invalid_input_names_the_valid_ones(name):
    bad = next(k for k in SHAPES if k not in valid_inputs(name))
    with pytest.raises(ValueError) as err:
        build_model(name, bad, tasks_of(name))
    for kind in valid_inputs(name):
        assert kind in str(err.value), f"{name}: message {err.value!s} does not name {kind}"


def test_bad_names_and_task_counts():
    with pytest.raises(ValueError) as err:
        build_model("transformer", "mfcc", {"gender": 2})
    assert all(name in str(err.value) for name in MODELS)
    with pytest.raises(ValueError, match="single-task"):
        build_model("cnn", "mfcc_f0", ALL_TASKS)
    with pytest.raises(ValueError, match="cascade needs"):
        build_model("cascade", "mfcc_f0", {"dialect": 6})
    with pytest.raises(ValueError, match="valid inputs are raw"):
        build_model("hps", "mfcc_f0", ALL_TASKS, trunk="rawcnn")
    assert build_model("hps", "raw", ALL_TASKS, trunk="rawcnn")(torch.randn(2, 1, 4000))["age"].shape == (2, 5)


# (model, input, length in frames or samples, Adam learning rate). Vanilla RNN: random inputs make every
# example's last frames unique, so it memorises 8 examples from them even over 400 frames; 20 frames keep the
# test short (models.RNN says why long sequences of real speech defeat it). logreg has no hidden layer to
# reshape, so its margins grow only by scaling its weights: a larger step gets there in the same budget.
OVERFIT = [("cnn", "mfcc_f0", 100, 1e-2), ("mel_cnn", "mel", 100, 1e-2), ("rnn", "mfcc", 20, 1e-2),
           ("clstm", "mfcc", 100, 1e-2), ("rawcnn", "raw", 4000, 1e-2), ("logreg", "mfcc_f0", 100, 5e-2),
           ("hps", "mfcc_f0", 100, 1e-2), ("lstm_mtl", "mfcc", 100, 1e-2), ("cascade", "mfcc_f0", 100, 1e-2)]


@pytest.mark.parametrize("name,kind,length,lr", OVERFIT)
def test_overfits_one_batch_of_eight(name, kind, length, lr):
    torch.manual_seed(0)
    n_classes = tasks_of(name)
    model = build_model(name, kind, n_classes)
    x, y = random_batch(kind, n_classes, B=8, length=length)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(300):
        total, per_task = multitask_loss(model(x), y, list(n_classes))
        opt.zero_grad()
        total.backward()
        opt.step()
        if total.item() < 0.05:
            break
    print(f"{name}/{kind}: loss {total.item():.4f} after {step + 1} steps {per_task}")
    assert total.item() < 0.05, f"{name}/{kind}: loss {total.item():.4f} after 300 Adam steps"


def test_masked_example_gives_zero_gradient_to_its_head():
    torch.manual_seed(0)
    model = build_model("hps", "mfcc_f0", ALL_TASKS)
    x = torch.randn(1, 3, 14, 40)
    tasks = list(ALL_TASKS)
    for label, expect_zero in [(-1, True), (3, False)]:
        model.zero_grad()
        y = torch.tensor([[1, 0, label]])  # age 1, gender 0, dialect masked / known
        total, per_task = multitask_loss(model(x), y, tasks)
        total.backward()
        g = model.heads["dialect"].weight.grad
        largest = g.abs().max().item()
        print(f"dialect label {label}: largest |grad| of the dialect head = {largest:.3g}")
        assert (largest == 0.0) == expect_zero
        assert model.heads["age"].weight.grad.abs().max() > 0  # the known tasks still learn


def test_all_masked_task_is_zero_not_nan():
    logits = {"age": torch.randn(3, 5, requires_grad=True), "gender": torch.randn(3, 2, requires_grad=True)}
    y = torch.tensor([[-1, 0], [-1, 1], [-1, -1]])
    total, per_task = multitask_loss(logits, y, ["age", "gender"])
    assert per_task["age"] == 0.0 and torch.isfinite(total)
    total.backward()
    assert logits["age"].grad.abs().max() == 0.0
    none, _ = multitask_loss(logits, torch.full((3, 2), -1), ["age", "gender"])
    assert none.item() == 0.0


def test_loss_equals_cross_entropy_by_hand():
    torch.manual_seed(0)
    logits = {"age": torch.randn(6, 5), "gender": torch.randn(6, 2), "dialect": torch.randn(6, 6)}
    y = torch.tensor([[0, 1, 5], [4, -1, 2], [-1, 0, -1], [2, 1, 0], [3, -1, 3], [-1, 0, 1]])
    weights = {"dialect": 0.5}
    total, per_task = multitask_loss(logits, y, ["age", "gender", "dialect"], weights)
    expected, largest = 0.0, 0.0
    for i, task in enumerate(["age", "gender", "dialect"]):
        rows = [b for b in range(6) if y[b, i] >= 0]
        # -log softmax of the true class, averaged over the known rows, written out
        by_hand = sum(-(logits[task][b, y[b, i]] - logits[task][b].exp().sum().log()) for b in rows) / len(rows)
        largest = max(largest, abs(per_task[task] - by_hand.item()))
        expected += weights.get(task, 1.0) * by_hand.item()
    largest = max(largest, abs(total.item() - expected))
    print("multitask_loss vs hand-written cross-entropy, max |diff|:", largest)
    assert largest < 1e-5
    assert abs(per_task["gender"] - F.cross_entropy(logits["gender"], y[:, 1], ignore_index=-1).item()) < 1e-6


def test_cascade_dialect_depends_on_gender_posterior():
    torch.manual_seed(0)
    model = build_model("cascade", "mfcc_f0", ALL_TASKS).eval()
    x = torch.randn(4, 3, 14, 60)
    before = model(x)
    with torch.no_grad():
        model.heads["gender"].bias += torch.tensor([5.0, -5.0])  # same embedding, a different gender posterior
    after = model(x)
    change = (after["dialect"] - before["dialect"]).abs().max().item()
    print("max change of dialect logits when only the gender logits move:", change)
    assert change > 1e-3
    assert (after["gender"] - before["gender"]).abs().max() > 1.0


def test_cascade_teacher_forcing_uses_the_true_labels():
    torch.manual_seed(0)
    n_classes = {"dialect": 6, "gender": 2, "age": 5}  # any key order: targets follow it, the chain does not
    model = build_model("cascade", "mfcc_f0", n_classes).eval()
    x = torch.randn(3, 3, 14, 60)
    y = torch.tensor([[2, 0, 1], [5, 1, -1], [0, -1, -1]])  # (B, 3) in n_classes order, -1 = unknown
    forced = model(x, targets=y, teacher_forcing=True)
    free = model(x)
    # the gender head reads only the embedding: identical either way
    assert torch.allclose(forced["gender"], free["gender"])
    # example 2 has no gender and no age label: its posteriors are kept, so its dialect logits do not move
    assert torch.allclose(forced["dialect"][2], free["dialect"][2], atol=1e-6)
    # by hand: dialect head on [embedding, one-hot gender, one-hot age] for example 0 (gender 0, age 1)
    h = model.trunk(x)
    evidence = torch.cat([h[0], torch.tensor([1.0, 0.0]), F.one_hot(torch.tensor(1), 5).float()])
    by_hand = model.heads["dialect"](evidence)
    diff = (forced["dialect"][0] - by_hand).abs().max().item()
    print("teacher-forced dialect logits vs by hand, max |diff|:", diff)
    assert diff < 1e-5
    total, _ = multitask_loss(model.train()(x, targets=y, teacher_forcing=True), y, list(n_classes))
    total.backward()
    with pytest.raises(ValueError, match="targets"):
        model(x, teacher_forcing=True)


def test_count_parameters_by_hand():
    model = build_model("logreg", "mfcc", {"gender": 2})
    assert count_parameters(model) == 2 * 78 + 2  # linear head on [mean, std] of 39 rows: W (2, 78) + b (2,)
