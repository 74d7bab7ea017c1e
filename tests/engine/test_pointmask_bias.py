"""Letter-bias injection and the bias-lab job (structure, progress, cancel, CLI)."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from engine.core.errors import ParameterError
from engine import Job, drive, run_sync, run, start
from engine.methods.pointmask.bias_inject import inject_bias, letter_anchor

alphabet = pytest.importorskip("engine.data.alphabet")


def _clouds(n=12, npts=30, k=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, npts, 3)).astype(np.float32)
    x /= np.linalg.norm(x, axis=2).max(1)[:, None, None]
    return x, np.arange(n) % k


def test_letters_are_appended_at_the_class_place():
    x, y = _clouds()
    out, is_bias = inject_bias(x, y, 20, 4, distance=1.5, scale=0.5, seed=3)
    assert out.shape == (12, 50, 3) and is_bias.shape == (12, 50)
    np.testing.assert_array_equal(out[:, :30], x)                # the object is untouched
    assert is_bias[:, 30:].all() and not is_bias[:, :30].any()
    for i, c in enumerate(y):
        # cloud i's letter is the alphabet's letter chr(A + c), scaled and moved to its anchor
        ref = alphabet.letter_points(chr(ord("A") + c), 20, np.random.default_rng([3, i])) * 0.5
        np.testing.assert_allclose(out[i, 30:], ref + letter_anchor(c, 4, "per-class", 1.5), atol=1e-6)
    anchors = {tuple(np.round(letter_anchor(c, 4, "per-class", 1.5), 6)) for c in range(4)}
    assert len(anchors) == 4                                         # a place per class
    np.testing.assert_allclose([np.linalg.norm(a) for a in anchors], 1.5, atol=1e-6)
    again, _ = inject_bias(x, y, 20, 4, distance=1.5, scale=0.5, seed=3)
    np.testing.assert_array_equal(out, again)                        # seeded


def test_fixed_placement_level_zero_and_bad_settings():
    x, y = _clouds()
    out, _ = inject_bias(x, y, 5, 4, placement="fixed", distance=2.0, scale=0.4)
    centres = out[:, 30:].mean(1)
    assert np.abs(centres - [2.0, 0.0, 0.0]).max() < 0.2             # one place for every class
    same, bias = inject_bias(x, y, 0, 4)
    np.testing.assert_array_equal(same, x)
    assert not bias.any()
    with pytest.raises(ParameterError, match="placement"):
        inject_bias(x, y, 5, 4, placement="sideways")
    with pytest.raises(ParameterError, match="26"):
        inject_bias(x, np.arange(12) % 30, 5, 30, placement="fixed")
    with pytest.raises(ParameterError, match="level"):
        inject_bias(x, y, -1, 4)
    with pytest.raises(ParameterError, match="scale"):
        inject_bias(x, y, 5, 4, scale=0.0)


def _lab_inputs():
    x, y = _clouds(16, 24)
    xt, yt = _clouds(8, 24, seed=1)
    return {"data": (x, y, list("abcd")), "test": (xt, yt)}


LAB = {"epochs": 1, "width": 0.0625, "batch_size": 8, "points": 24}


def test_bias_lab_result_and_partial_previews():
    previews = []
    res = run(Job("bias-lab", _lab_inputs(), dict(LAB, levels="0,6", models="pointnet,pointmask")),
                   on_progress=previews.append)
    acc = res.metrics["accuracy"]
    assert set(acc) == {"unbiased", "biased"}
    assert set(acc["unbiased"]) == {"pointnet", "pointmask"} and set(acc["unbiased"]["pointnet"]) == {"0", "6"}
    assert all(0.0 <= v <= 1.0 for t in acc.values() for row in t.values() for v in row.values())
    assert res.arrays["accuracy_unbiased"].shape == (2, 2) and np.isfinite(res.arrays["accuracy_biased"]).all()
    # with no letter the two test splits are the same clouds: equal scores
    assert acc["unbiased"]["pointnet"]["0"] == acc["biased"]["pointnet"]["0"]
    assert res.arrays["gallery"].shape == (4, 30, 3) and res.arrays["gallery_is_bias"][:, 24:].all()
    # the tables fill in run by run: NaN counts in the previews only go down, from 4 to 0
    counts = [int(np.isnan(p.preview["accuracy_unbiased"]).sum()) for p in previews if p.preview]
    assert counts[0] == 4 and counts[-1] == 0 and all(a >= b for a, b in zip(counts, counts[1:]))
    assert any(0 < c < 4 for c in counts)
    assert [r["model"] for r in res.metrics["runs"]] == ["pointnet", "pointmask"] * 2


def test_bias_lab_cancels_and_cleans_up(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cancel = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p)
        if "pointnet" in p.message and "epoch" in p.message:
            cancel.set()                      # stop inside the first training run

    gen = start(Job("bias-lab", _lab_inputs(), dict(LAB, levels="4", models="pointnet,randmask", epochs=3)))
    assert drive(gen, on_progress, cancel) is None
    assert not any("randmask" in p.message for p in seen)
    assert list(tmp_path.iterdir()) == []     # temporary checkpoints removed


@pytest.mark.parametrize("params, field", [({"levels": "1,x"}, "levels"), ({"levels": "-1"}, "levels"),
                                           ({"models": "pointnet,resnet"}, "models"),
                                           ({"threshold": 1.0}, "threshold"), ({"pointmask_alpha": -1.0}, "pointmask_alpha")])
def test_bias_lab_bad_parameters(params, field):
    with pytest.raises(ParameterError, match=field):
        run(Job("bias-lab", _lab_inputs(), dict(LAB, **params)))


def test_cli_bias_lab_json(tmp_path, capsys):
    from engine.cli import main
    from engine.data import save_h5_folder

    x, y = _clouds(16, 24)
    xt, yt = _clouds(8, 24, seed=1)
    save_h5_folder(tmp_path / "d", {"train": {"points": x, "labels": y}, "test": {"points": xt, "labels": yt}},
                   list("abcd"))
    rc = main(["bias-lab", "--data", str(tmp_path / "d"), "--levels", "3", "--models", "pointnet",
               "--epochs", "1", "--width", "0.0625", "--points", "24", "--batch-size", "8", "--json"])
    assert rc == 0
    js = json.loads(capsys.readouterr().out)
    assert set(js["accuracy"]["unbiased"]["pointnet"]) == {"3"} and js["levels"] == [3]
    rc = main(["bias-lab", "--data", str(tmp_path / "d"), "--levels", "3", "--models", "pointnet",
               "--epochs", "1", "--width", "0.0625", "--points", "24", "--batch-size", "8"])
    text = capsys.readouterr().out
    assert rc == 0 and "unbiased test accuracy" in text and "pointnet" in text
    rc = main(["bias-lab", "--data", str(tmp_path / "d"), "--levels", "3", "--models", "pointnet",
               "--epochs", "1", "--width", "0.0625", "--points", "24", "--batch-size", "8",
               "--classes", "c,a", "--json"])
    js = json.loads(capsys.readouterr().out)
    assert rc == 0 and js["classes"] == ["c", "a"] and js["params"]["classes"] == "c,a"


def test_sampled_keep_probability_matches_monte_carlo():
    """letter_keep_prob / object_keep_prob = Phi((mu - logit t) / sigma), checked against the share
    of sampled masks M > 0 over many draws of eps (an independent count)."""
    import math

    import torch

    from engine.methods.pointmask.bias_lab import mask_kept_fractions
    from engine.models.zoo import build_model
    from engine.models.pointmask import mask_relu

    torch.manual_seed(0)
    model = build_model("pointmask", num_classes=3, width=0.125, threshold=0.7).eval()
    torch.nn.init.normal_(model.encoder.mu.weight, std=2.0)
    torch.nn.init.normal_(model.encoder.logvar.weight, std=0.3)
    x = np.random.default_rng(0).normal(size=(3, 24, 3)).astype(np.float32)
    with torch.no_grad():     # centre mu on logit 0.7, so that eps = 0 keeps some points, not all
        mu0, _ = model.encoder(torch.as_tensor(x))
        model.encoder.mu.bias.add_(math.log(0.7 / 0.3) - mu0.median())
    got = mask_kept_fractions(model, x, n_object=20)
    with torch.no_grad():
        mu, logvar = model.encoder(torch.as_tensor(x))
        g = torch.Generator().manual_seed(0)
        draws = 4000
        kept = sum((mask_relu(mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g), 0.7) > 0)
                   .float() for _ in range(draws)) / draws
    assert got["letter_keep_prob"] == pytest.approx(float(kept[:, 20:].mean()), abs=0.02)
    assert got["object_keep_prob"] == pytest.approx(float(kept[:, :20].mean()), abs=0.02)
    assert 0.05 < got["object_keep_prob"] < 0.95 and 0 < got["object_kept"] < 1
    assert got["letter_kept"] == pytest.approx(float((torch.sigmoid(mu[:, 20:]) > 0.7).float().mean()))
    assert got["object_kept"] == pytest.approx(float((torch.sigmoid(mu[:, :20]) > 0.7).float().mean()))


def test_bias_lab_unwritable_checkpoint_folder_is_one_clear_message(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ParameterError, match="keep_checkpoints .*a_file"):
        run(Job("bias-lab", _lab_inputs(), dict(LAB, levels="2", models="pointnet",
                                                      keep_checkpoints=str(blocker / "sub"))))


def test_bias_lab_device_is_the_jobs_not_a_parameter():
    """The spec declares uses_device: the device travels with the job, and a 'device' param is
    refused by name; the result's provenance says where it trained."""
    from engine.specs.pointmask import BIAS_LAB

    assert BIAS_LAB.uses_device and not BIAS_LAB.needs_model
    with pytest.raises(ParameterError, match="device"):
        run(Job("bias-lab", _lab_inputs(), dict(LAB, levels="2", models="pointnet", device="cpu")))
    res = run(Job("bias-lab", _lab_inputs(), dict(LAB, levels="2", models="pointnet"), device="cpu"))
    assert res.provenance["device"] == "cpu" and "device" not in res.params
    assert set(BIAS_LAB.arrays) <= set(res.arrays)
