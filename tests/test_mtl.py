"""Models with heads (mtl.py): every trunk single- and multi-task, the masked loss, regression, the cascade.

The overfit test is the first training test of any teaching codebase: if a model cannot drive the loss to
near zero on eight examples, nothing else about its training can be trusted. Every trunk x {1 task, 3 tasks}
x each input it reads must pass it.
"""
import pytest
import torch
import torch.nn.functional as F

import features
from models import TRUNKS, VALID_INPUTS
from mtl import (ALIASES, MODELS, build_model, count_parameters, multitask_loss, regression_scales, resolve)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py: tiny tensors run fastest on one thread

SHAPES = {kind: features.input_shape(kind) for kind in features.INPUTS}
LENGTH = {"mfcc_f0": 60, "mfcc": 60, "mel": 60, "raw": 4000, "mfcc_f0_vt": 60}  # frames / samples: short for speed
THREE = {"age": 5, "gender": 2, "dialect": 6}  # classes per task in the built-in corpus
ONE = {"dialect": 6}


def build(name, kind, n_classes, **options):
    """build_model with the input's shape from features.py (the model floor is told it, never imports it)."""
    return build_model(name, kind, n_classes, features.input_shape(kind), **options)


def random_batch(kind, n_classes, B=8, length=None):
    x = torch.randn(B, *SHAPES[kind], length or LENGTH[kind])  # (B, *in_shape, L)
    y = torch.stack([torch.randint(0, n, (B,)).float() for n in n_classes.values()], dim=1)  # (B, n_tasks)
    return x, y


# (trunk, input) -> Adam learning rate. The vanilla RNN overfits from its last frames, so it gets 20 frames;
# logreg has no hidden layer: its margins grow only by scaling its weights, so a larger step gets there.
LR = {"logreg": 5e-2}
OVERFIT = [(name, kind, tasks) for name in TRUNKS for kind in VALID_INPUTS[name] for tasks in ("one", "three")]


@pytest.mark.parametrize("name,kind,tasks", OVERFIT)
def test_every_trunk_overfits_eight_examples_single_and_multi_task(name, kind, tasks):
    torch.manual_seed(0)
    n_classes = ONE if tasks == "one" else THREE
    model = build(name, kind, n_classes)
    x, y = random_batch(kind, n_classes, length=20 if name == "rnn" else None)
    lengths = torch.full((8,), x.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=LR.get(name, 1e-2))
    for step in range(300):
        total, per_task = multitask_loss(model(x, lengths), y, list(n_classes))
        opt.zero_grad()
        total.backward()
        opt.step()
        if total.item() < 0.05:
            break
    print(f"{name}/{kind}/{tasks}: loss {total.item():.4f} after {step + 1} steps {per_task}")
    assert total.item() < 0.05, f"{name}/{kind}: loss {total.item():.4f} after 300 Adam steps"


@pytest.mark.parametrize("name", MODELS)
def test_invalid_input_names_the_valid_ones(name):
    bad = next(k for k in SHAPES if k not in VALID_INPUTS[resolve(name)[0]])
    with pytest.raises(ValueError) as err:
        build(name, bad, THREE)
    for kind in VALID_INPUTS[resolve(name)[0]]:
        assert kind in str(err.value), f"{name}: message {err.value!s} does not name {kind}"


def test_bad_names_and_aliases():
    with pytest.raises(ValueError) as err:
        build("transformer", "mfcc", {"gender": 2})
    assert all(name in str(err.value) for name in MODELS)
    with pytest.raises(ValueError, match="cascade needs two or more tasks"):
        build("cascade", "mfcc_f0", ONE)
    with pytest.raises(TypeError, match="n_classes must be"):
        build_model("cnn", "mfcc_f0", (3, 14), {"gender": 2})
    with pytest.raises(ValueError, match="raw waveform"):
        build("rawcnn", "raw", THREE, spec_augment={"n_time": 1})
    # the original project's names build the same networks as the trunks they stand for
    for alias, (trunk, cascade) in ALIASES.items():
        a, b = build(alias, "mfcc", THREE), build(trunk, "mfcc", THREE, cascade=cascade)
        assert type(a) is type(b) and count_parameters(a) == count_parameters(b), alias
    assert type(build("rawcnn", "raw", THREE, cascade=True)).__name__ == "Cascade"  # any trunk cascades


def test_masked_example_gives_zero_gradient_to_its_head():
    torch.manual_seed(0)
    model = build("hps", "mfcc_f0", THREE)
    x = torch.randn(1, 3, 14, 40)
    for label, expect_zero in [(float("nan"), True), (3.0, False)]:
        model.zero_grad()
        y = torch.tensor([[1.0, 0.0, label]])  # age 1, gender 0, dialect unknown / known
        total, _ = multitask_loss(model(x), y, list(THREE))
        total.backward()
        largest = model.heads["dialect"].weight.grad.abs().max().item()
        print(f"dialect label {label}: largest |grad| of the dialect head = {largest:.3g}")
        assert (largest < 1e-12) == expect_zero
        assert model.heads["age"].weight.grad.abs().max() > 0  # the known tasks still learn


def test_all_masked_task_is_zero_not_nan():
    logits = {"age": torch.randn(3, 5, requires_grad=True), "gender": torch.randn(3, 2, requires_grad=True)}
    nan = float("nan")
    y = torch.tensor([[nan, 0.0], [nan, 1.0], [nan, nan]])
    total, per_task = multitask_loss(logits, y, ["age", "gender"])
    assert abs(per_task["age"]) < 1e-12 and torch.isfinite(total)
    total.backward()
    assert logits["age"].grad.abs().max() < 1e-12
    none, _ = multitask_loss(logits, torch.full((3, 2), nan), ["age", "gender"])
    assert abs(none.item()) < 1e-12


def test_loss_equals_cross_entropy_and_l1_by_hand():
    torch.manual_seed(0)
    nan = float("nan")
    out = {"age": torch.randn(6, 5), "gender": torch.randn(6, 2), "age_years": torch.randn(6) * 10 + 30}
    y = torch.tensor([[0, 1, 25.0], [4, nan, 61.5], [nan, 0, nan], [2, 1, 30.0], [3, nan, 8.0], [nan, 0, 44.0]])
    weights, scales = {"gender": 0.5}, {"age_years": 12.0}
    total, per_task = multitask_loss(out, y, ["age", "gender", "age_years"], weights, scales)
    expected, largest = 0.0, 0.0
    for i, task in enumerate(["age", "gender", "age_years"]):
        rows = [b for b in range(6) if not torch.isnan(y[b, i])]
        if task == "age_years":  # mean |prediction - years| over the known rows, in units of the scale
            by_hand = sum(abs(out[task][b].item() - y[b, i].item()) for b in rows) / len(rows) / 12.0
        else:  # -log softmax of the true class, averaged over the known rows, written out
            by_hand = sum(-(out[task][b, int(y[b, i])] - out[task][b].exp().sum().log()).item() for b in rows) / len(rows)
        largest = max(largest, abs(per_task[task] - by_hand))
        expected += weights.get(task, 1.0) * by_hand
    largest = max(largest, abs(total.item() - expected))
    print("multitask_loss vs hand-written cross-entropy and L1, max |diff|:", largest)
    assert largest < 1e-5


def test_regression_head_speaks_in_years_and_its_scale_is_the_training_std():
    torch.manual_seed(0)
    model = build("logreg", "mfcc", {"gender": 2, "age_years": 0})
    model.heads["age_years"].set_statistics(31.0, 9.5)
    out = model(torch.randn(4, 3, 13, 30))
    assert out["age_years"].shape == (4,)
    with torch.no_grad():  # a zero linear layer predicts the training mean exactly
        model.heads["age_years"].linear.weight.zero_()
        model.heads["age_years"].linear.bias.zero_()
    assert torch.allclose(model(torch.randn(2, 3, 13, 30))["age_years"], torch.tensor([31.0, 31.0]))
    assert regression_scales(model) == {"age_years": 9.5}


def test_cascade_chain_follows_the_task_order():
    torch.manual_seed(0)
    model = build("cnn", "mfcc_f0", {"gender": 2, "age": 5, "dialect": 6}, cascade=True).eval()
    assert [h.in_features for h in model.heads.values()] == [64, 64 + 2, 64 + 2 + 5]
    reverse = build("cnn", "mfcc_f0", {"dialect": 6, "age": 5, "gender": 2}, cascade=True)
    assert [h.in_features for h in reverse.heads.values()] == [64, 64 + 6, 64 + 6 + 5]
    x = torch.randn(4, 3, 14, 60)
    before = model(x)
    with torch.no_grad():
        model.heads["gender"].bias += torch.tensor([5.0, -5.0])  # same embedding, another gender posterior
    after = model(x)
    change = (after["dialect"] - before["dialect"]).abs().max().item()
    print("max change of dialect logits when only the gender logits move:", change)
    assert change > 1e-3


def test_cascade_teacher_forcing_uses_the_true_labels_and_keeps_free_outputs():
    torch.manual_seed(0)
    n_classes = {"gender": 2, "age": 5, "dialect": 6}
    model = build("cascade", "mfcc_f0", n_classes).train()
    for module in model.modules():  # no dropout or batch statistics in the way of an exact comparison
        module.training = module is model
    nan = float("nan")
    x = torch.randn(3, 3, 14, 60)
    y = torch.tensor([[0, 1, 2], [1, nan, 5], [nan, nan, 0]])  # (B, 3) in n_classes order, NaN = unknown
    forced = model(x, targets=y)
    free = model.free_outputs
    assert torch.allclose(forced["gender"], free["gender"])  # the first head reads only the embedding
    assert torch.allclose(forced["dialect"][2], free["dialect"][2], atol=1e-6)  # nothing known: nothing forced
    h = model.trunk(x)  # by hand: dialect head on [embedding, one-hot gender 0, one-hot age 1] for example 0
    by_hand = model.heads["dialect"](torch.cat([h[0], torch.tensor([1.0, 0.0]), F.one_hot(torch.tensor(1), 5).float()]))
    diff = (forced["dialect"][0] - by_hand).abs().max().item()
    print("teacher-forced dialect logits vs by hand, max |diff|:", diff)
    assert diff < 1e-5
    assert not torch.allclose(forced["age"][0], free["age"][0])  # forcing changed what the age head saw
    model.eval()
    assert model(x, targets=y)["age"].allclose(model(x)["age"]) and model.free_outputs is None  # never at test


def test_count_parameters_by_hand():
    model = build("logreg", "mfcc", {"gender": 2})
    assert count_parameters(model) == 2 * 78 + 2  # linear head on [mean, std] of 39 rows: W (2, 78) + b (2,)


def test_an_adversarial_head_sends_the_trunk_the_opposite_gradient():
    """The same weights, the same loss on one head: behind a gradient reversal the trunk's gradient is exactly the
    other way (within float error), and the head's own gradient is unchanged."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 14, 50)
    plain = build_model("logreg", "mfcc_f0", {"corpus": 3}, (3, 14))
    adversarial = build_model("logreg", "mfcc_f0", {"corpus": 3}, (3, 14), adversarial=("corpus",))
    adversarial.load_state_dict(plain.state_dict())
    grads = []
    for model in (plain, adversarial):
        feats = model.trunk(x).detach().requires_grad_(True)  # the embedding, as a leaf
        loss = F.cross_entropy(model.heads["corpus"](model.reversed["corpus"](feats) if model.reversed else feats),
                               torch.tensor([0, 1, 2, 0]))
        loss.backward()
        grads.append((feats.grad.clone(), model.heads["corpus"].weight.grad.clone()))
    assert torch.allclose(grads[1][0], -grads[0][0], atol=1e-7) and torch.allclose(grads[1][1], grads[0][1], atol=1e-7)
