"""SageMix's data-only work prepared ahead (the training loop overlaps it with the previous step)
gives the same mixed batch as doing it inline, and training with it stays deterministic."""
import numpy as np
import torch

from engine.methods.mix.augment import SageMixAugment
from engine.models.zoo import build_model


def _batch(seed=0, b=6, n=48):
    g = np.random.default_rng(seed)
    return torch.from_numpy(g.normal(size=(b, n, 3)).astype(np.float32)), torch.tensor([0, 1, 2, 0, 1, 2])


def test_prepared_call_equals_the_inline_call():
    torch.manual_seed(0)
    model = build_model("pointnet", num_classes=3, width=0.125)
    x, y = _batch()
    aug = SageMixAugment(sigma=0.3)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    inline = aug(model, x, y, 3, g1)
    prepared = aug(model, x, y, 3, g2, prepared=aug.prepare(x, g2))
    torch.testing.assert_close(prepared[0], inline[0], rtol=0, atol=0)
    torch.testing.assert_close(prepared[1], inline[1], rtol=0, atol=0)
    assert not torch.equal(inline[0], x)                      # it did mix


def test_skipped_batch_is_prepared_as_none():
    x, y = _batch()
    aug = SageMixAugment(mix_prob=0.0)
    g = torch.Generator().manual_seed(0)
    assert aug.prepare(x, g) is None
    out, soft = aug(None, x, y, 3, g, prepared=None)
    assert torch.equal(out, x) and torch.equal(soft.argmax(1), y)


def test_training_with_prefetched_sagemix_is_deterministic(tmp_path):
    from engine import Job, run_sync, run, start

    def train_once():
        return run(Job("train", {"data": "builtin"}, dict(
            model="pointnet", epochs=1, width=0.0625, points=64, limit=40, batch_size=8, seed=3,
            mix="sagemix", augmentations="none")))
    a, b = train_once(), train_once()
    assert a.metrics["loss"] == b.metrics["loss"] and a.metrics["test_accuracy"] == b.metrics["test_accuracy"]
    np.testing.assert_array_equal(a.arrays["step_loss"], b.arrays["step_loss"])
    # the batches were assigned by the auction, whose certified bound the run reports
    assert a.metrics["assignment_solver"] == "auction"
    assert 0.0 <= a.metrics["assignment_gap_bound"] <= 0.01


def test_training_does_not_depend_on_whether_the_assignment_overlaps(monkeypatch):
    # The loop starts the next assignment early only when torch leaves a core free; the random
    # draws (partners, queries) must come in the same order either way.
    from engine.training import train
    from engine import Job, run_sync, run, start

    def train_once():
        return run(Job("train", {"data": "builtin"}, dict(
            model="pointnet", epochs=1, width=0.0625, points=64, limit=40, batch_size=8, seed=4,
            mix="sagemix", augmentations="none")))
    monkeypatch.setattr(train.os, "cpu_count", lambda: 64)       # a free core: overlap
    a = train_once()
    monkeypatch.setattr(train.os, "cpu_count", lambda: 1)        # no free core: no overlap
    b = train_once()
    np.testing.assert_array_equal(a.arrays["step_loss"], b.arrays["step_loss"])
