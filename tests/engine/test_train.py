"""The training loop: learns, is deterministic under a seed, resumes exactly, cancels cleanly,
trains self-supervised models, warm-starts from another model, runs data-parallel."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.training.augment import PointAugment, random_rotations
from engine.core.errors import CheckpointError, ParameterError, RegistryError
from engine import Job, drive, run_sync, run, start
from engine.models.zoo import build_model
from engine.models.checkpoints import load_checkpoint, save_checkpoint
from engine.training.batches import epoch_batches, spread_indices
from tests.engine.core_helpers import CLASSES, toy_clouds, toy_folder

TRAIN = toy_clouds(36, 64, seed=1)
TEST = toy_clouds(18, 64, seed=2)
TINY = {"width": 0.125, "points": 64, "batch_size": 12, "augmentations": "none", "lr": 0.01}


def _train(out=None, data=None, **params):
    p = dict(TINY, **params)
    if out is not None:
        p["out"] = str(out)
    inputs = {"data": data if data is not None else (*TRAIN, CLASSES), "test": TEST}
    if isinstance(inputs["data"], str):
        inputs.pop("test")
    seen = []
    result = run(Job("train", inputs, p), on_progress=seen.append)
    return result, seen


def _weights(path):
    return load_checkpoint(path).model.state_dict()


def test_training_lowers_the_loss_and_learns(tmp_path):
    result, seen = _train(tmp_path / "m.safetensors", epochs=6)
    loss = result.arrays["loss"]
    assert len(loss) == 6 and loss[-1] < 0.7 * loss[0]
    # 3 classes, chance 1/3. (Eval-mode test accuracy lags this early: BN running statistics
    # trail the fast-changing weights, so the test accuracy is only checked for range.)
    assert result.arrays["train_acc"][-1] > 0.6 and 0 <= result.metrics["test_accuracy"] <= 1
    meta = load_checkpoint(tmp_path / "m.safetensors").meta
    assert meta["classes"] == CLASSES and meta["metrics"]["test_accuracy"] is not None
    assert meta["params"]["epochs"] == 6 and meta["data_fingerprint"] == result.provenance["data_fingerprint"]
    # progress: message + preview with the history arrays, done counting up to total
    previews = [p.preview for p in seen if p.preview is not None]
    assert previews and {"epoch", "step", "loss", "train_acc", "test_acc"} <= set(previews[-1])
    assert all(isinstance(v, (np.ndarray, float)) for v in previews[-1].values())
    assert seen[-1].done == seen[-1].total
    # steps per epoch come from the engine (the viewer's x axis in epochs must not guess them)
    assert result.metrics["steps_per_epoch"] == 3 and previews[-1]["steps_per_epoch"] == 3.0
    assert result.provenance["device"] == "cpu"


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    a, _ = _train(tmp_path / "a.safetensors", epochs=2, keep="last", augmentations="jitter,rotate-so3,scale,dropout")
    b, _ = _train(tmp_path / "b.safetensors", epochs=2, keep="last", augmentations="jitter,rotate-so3,scale,dropout")
    c, _ = _train(tmp_path / "c.safetensors", epochs=2, keep="last", augmentations="jitter,rotate-so3,scale,dropout",
                  seed=1)
    wa, wb, wc = (_weights(tmp_path / f"{n}.safetensors") for n in "abc")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    np.testing.assert_array_equal(a.arrays["step_loss"], b.arrays["step_loss"])


def test_resume_continues_the_same_run(tmp_path):
    full, _ = _train(tmp_path / "full.safetensors", epochs=3, keep="last", augmentations="jitter,scale")
    part = tmp_path / "part.safetensors"
    _train(part, epochs=1, keep="last", augmentations="jitter,scale")
    assert (tmp_path / "part.safetensors.state.pt").is_file()
    resumed, _ = _train(part, epochs=3, keep="last", augmentations="jitter,scale", resume=True)
    assert list(resumed.arrays["epoch"]) == [1, 2, 3]
    wf, wr = _weights(tmp_path / "full.safetensors"), _weights(part)
    assert all(torch.allclose(wf[k].float(), wr[k].float(), atol=1e-6) for k in wf)
    np.testing.assert_allclose(resumed.arrays["loss"], full.arrays["loss"], rtol=1e-5)
    with pytest.raises(ParameterError, match="settings differ.*width"):
        _train(part, epochs=4, keep="last", augmentations="jitter,scale", resume=True, width=0.25)
    with pytest.raises(ParameterError, match="nothing to resume"):
        _train(tmp_path / "other.safetensors", epochs=2, resume=True)


def test_cancel_stops_cleanly(tmp_path):
    cancel = threading.Event()
    gen = start(Job("train", {"data": (*TRAIN, CLASSES), "test": TEST},
                    dict(TINY, epochs=50, out=str(tmp_path / "m.safetensors"))))
    steps = []

    def on_progress(p):
        steps.append(p)
        if p.done >= 4:
            cancel.set()

    assert drive(gen, on_progress, cancel) is None
    assert steps[-1].done < steps[-1].total
    assert not list(tmp_path.glob(".*.tmp"))
    if (tmp_path / "m.safetensors").exists():              # written atomically: loads if present
        load_checkpoint(tmp_path / "m.safetensors")


def test_bad_settings_are_reported():
    with pytest.raises(ParameterError, match="augmentation 'wobble' is unknown"):
        _train(epochs=1, augmentations="scale,wobble")
    with pytest.raises(RegistryError, match="Unknown augmentation 'nosuchmix'"):
        _train(epochs=1, mix="nosuchmix")
    with pytest.raises(ParameterError, match="--resume needs --out"):
        _train(epochs=1, resume=True)
    with pytest.raises(ParameterError, match="model options must be a JSON object"):
        _train(epochs=1, model_options="alpha=1")


def test_self_supervised_training_and_init(tmp_path):
    ssl = tmp_path / "parae.safetensors"
    result, _ = _train(ssl, model="parae", epochs=1, model_options='{"parts": 4}')
    assert result.metrics["task"] == "self-supervised" and np.isfinite(result.metrics["test_loss"])
    assert np.isnan(result.arrays["train_acc"]).all()
    loaded = load_checkpoint(ssl, expect="parae")
    # --init copies the encoder (feat.*) into a classifier and says how many tensors matched
    from engine.training.state import init_from

    clf = build_model("pointnet", num_classes=3, width=0.125)
    copied, total, text = init_from(clf, str(ssl))
    enc = {k: v for k, v in loaded.model.encoder_state_dict().items() if not k.endswith("num_batches_tracked")}
    assert copied == len(enc) and 0 < copied < total and f"initialised {copied} of {total}" in text
    assert all(torch.equal(clf.state_dict()[k], v) for k, v in enc.items())
    other = save_checkpoint(tmp_path / "tf.safetensors", build_model("serp-transformer", size="small", width=0.125), {})
    with pytest.raises(CheckpointError, match="none of its .* tensors match"):
        init_from(clf, str(other))
    fine, _ = _train(tmp_path / "fine.safetensors", epochs=1, init=str(ssl))
    assert fine.metrics["init"].startswith(f"initialised {copied} of")


def test_augmentations_are_seeded_and_correct():
    x = torch.from_numpy(TRAIN[0][:4])
    aug = PointAugment("rotate-up", up_axis="z")
    out = aug(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out[..., 2], x[..., 2])                     # up coordinate kept
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    r = random_rotations(64, torch.Generator().manual_seed(0))
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3, dtype=r.dtype).expand(64, 3, 3))
    assert torch.allclose(torch.linalg.det(r), torch.ones(64, dtype=r.dtype))
    s = PointAugment("scale")(x, torch.Generator().manual_seed(0)) / x
    ratio = s[torch.isfinite(s)]
    assert ratio.min() >= 0.8 - 1e-5 and ratio.max() <= 1.25 + 1e-5
    d = PointAugment("dropout")(x, torch.Generator().manual_seed(3))
    changed = (d != x).any(-1)
    assert torch.equal(d[changed], x[:, :1].expand_as(x)[changed])           # overwritten by point 0
    full = PointAugment("jitter,rotate-so3,scale,shift,dropout")
    torch.testing.assert_close(full(x, torch.Generator().manual_seed(5)), full(x, torch.Generator().manual_seed(5)))


def test_batches_are_seeded_sharded_and_spread():
    a = epoch_batches(50, 8, seed=0, epoch=0)
    assert a == a and all(np.array_equal(u, v) for u, v in zip(a, epoch_batches(50, 8, 0, 0)))
    assert not np.array_equal(np.concatenate(a), np.concatenate(epoch_batches(50, 8, 0, 1)))
    r0 = np.concatenate(epoch_batches(51, 4, 0, 0, rank=0, world=2))
    r1 = np.concatenate(epoch_batches(51, 4, 0, 0, rank=1, world=2))
    assert len(r0) == len(r1) == 24 and not set(r0) & set(r1)
    assert all(len(b) >= 2 for b in epoch_batches(9, 4, 0, 0))               # no single-cloud batch
    assert list(spread_indices(100, 5)) == [0, 25, 50, 74, 99] and len(spread_indices(5, 0)) == 5


def test_trains_on_a_dataset_spec(tmp_path):
    folder = toy_folder(tmp_path / "toy")
    result, _ = _train(tmp_path / "m.safetensors", data=str(folder), epochs=1)
    assert result.provenance["data"] == str(folder)
    assert load_checkpoint(tmp_path / "m.safetensors").meta["normalisation"]["points"] == 64


def test_data_parallel_with_two_cpu_processes(tmp_path):
    folder = toy_folder(tmp_path / "toy", n_train=24, n_test=6)
    out = tmp_path / "ddp.safetensors"
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "viewer.launch", "train", "--model", "pointnet", "--data", str(folder), "--epochs", "2",
           "--width", "0.125", "--points", "64", "--batch-size", "8", "--augmentations", "none",
           "--keep", "last", "--out", str(out), "--json"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1                                   # only rank 0 prints
    assert lines[0]["world_size"] == 2 and lines[0]["checkpoint"] == str(out)
    loaded = load_checkpoint(out)
    assert loaded.meta["metrics"]["epoch"] == 2 and not any(k.startswith("module.") for k in loaded.model.state_dict())


def test_fast_pointnet_path_matches_the_module():
    """The channels-last training forward gives the module's loss, gradients and BN statistics."""
    import copy

    from engine.models import pointnet_fast
    from engine.training.state import loss_function

    torch.manual_seed(0)
    a = build_model("pointnet", num_classes=3, width=0.25).double().train()
    b = copy.deepcopy(a)
    x = torch.from_numpy(TRAIN[0][:8]).double()
    y = torch.from_numpy(TRAIN[1][:8])
    torch.manual_seed(1)
    la, sa = a.training_loss(x, y)
    la.backward()
    torch.manual_seed(1)                                   # the same dropout draw
    lb, sb = pointnet_fast.training_loss(b, x, y)
    lb.backward()
    torch.testing.assert_close(lb, la, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sb["logits"], sa["logits"], rtol=1e-10, atol=1e-10)
    scale = max(float(p.grad.abs().max()) for p in a.parameters())
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        # (biases right before a batch norm have a true gradient of 0: compare on the global scale)
        torch.testing.assert_close(pb.grad, pa.grad, rtol=0, atol=1e-9 * scale, msg=name)
    for (name, ba), bb in zip(a.named_buffers(), b.buffers()):
        torch.testing.assert_close(bb, ba, rtol=1e-12, atol=1e-12, msg=name)
    a.eval()
    with torch.no_grad():
        torch.testing.assert_close(pointnet_fast.forward_all(a, x)["logits"], a(x), rtol=1e-12, atol=1e-12)
    assert pointnet_fast.applies_to(a) and not pointnet_fast.applies_to(build_model("randmask", num_classes=3, width=0.125))
    assert loss_function(a, fast=False) == a.training_loss
