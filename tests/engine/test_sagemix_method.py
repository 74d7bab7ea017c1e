"""The "mix" and "robustness" methods, the mix augmentations in training, and their commands."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine import metrics
from engine.numeric import corruptions
from engine.cli import main
from engine.core.errors import ParameterError
from engine import Job, run_sync, run, start
from engine.methods.mix import sagemix
from engine.models.zoo import build_model
from engine.ops.assignment import assign_exact
from engine.core.registry import AUGMENTATIONS
from engine.results import load_result, save_result

CLASSES = ["shell", "disc", "stick"]
N = 64


def _clouds(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three easily told shapes (sphere shell, flat disc, thin stick), randomly rotated."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, N, 3), np.float32)
    y = np.arange(n) % 3
    for i, label in enumerate(y):
        p = rng.normal(size=(N, 3))
        if label == 0:
            p /= np.linalg.norm(p, axis=1, keepdims=True)
        else:
            p[:, 2 if label == 1 else slice(1, 3)] *= 0.05
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        p = p @ (q * np.sign(np.diag(r))).T
        x[i] = (p - p.mean(0)) / np.linalg.norm(p - p.mean(0), axis=1).max()
    return x, y.astype(np.int64)


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("pointnet", num_classes=3, width=0.125).eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from engine.data import save_h5_folder
    from engine.models.checkpoints import save_checkpoint

    root = tmp_path_factory.mktemp("sagemix")
    xt, yt = _clouds(12, 1)
    xe, ye = _clouds(9, 2)
    data = save_h5_folder(root / "data", {"train": {"points": xt, "labels": yt},
                                          "test": {"points": xe, "labels": ye}}, CLASSES)
    meta = {"classes": CLASSES, "normalisation": {"points": N, "sampling": "first"}}
    ckpts = []
    for seed in (0, 1):
        ckpts.append(str(save_checkpoint(root / f"m{seed}.safetensors", _model(seed), meta)))
    return {"data": str(data), "ckpts": ckpts, "root": root, "test": (xe, ye)}


def _mix(params: dict, model=None, **inputs):
    return run(Job("mix", inputs, params, model=model))


def test_mix_sagemix_result_holds_every_step():
    x, y = _clouds(2, 5)
    model = _model()
    res = _mix({"method": "sagemix", "sigma": 0.4, "seed": 3}, a=x[0], b=x[1], label_a=0, label_b=1,
               model=model, classes=CLASSES)
    arr = res.arrays
    for k, shape in [("source_a", (N, 3)), ("source_b", (N, 3)), ("assignment", (N,)), ("queries", (2,)),
                     ("lambda", (N,)), ("mixed", (N, 3)), ("saliency_a", (N,)), ("saliency_b", (N,))]:
        assert arr[k].shape == shape, k
    perm, qa, qb = arr["assignment"], int(arr["queries"][0]), int(arr["queries"][1])
    _, best = assign_exact(x[0], x[1])
    assert res.metrics["assignment_cost"] == pytest.approx(best, rel=1e-9)
    assert sorted(perm) == list(range(N))
    # the arrays are consistent with blend() on the kept assignment and queries (viewer sliders)
    pi = res.params["pi"]
    mixed, lam = sagemix.blend(x[0], x[1][perm], x[0][qa], x[1][qb], 0.4, pi)
    np.testing.assert_allclose(arr["mixed"], mixed, atol=1e-6)
    np.testing.assert_allclose(arr["lambda"], lam, atol=1e-6)
    label = res.metrics["label"]
    assert set(label) == {"shell", "disc"}
    assert label["shell"] == pytest.approx(float(np.mean(lam)), abs=1e-6)
    assert sum(label.values()) == pytest.approx(1.0)
    assert res.metrics["queries"] == [qa, qb]
    # saliency shown is that of the model on each source with its label
    from engine.methods.inspect.saliency import point_saliency
    s = point_saliency(model, torch.from_numpy(x[:2]), torch.tensor([0, 1])).numpy()
    np.testing.assert_allclose(arr["saliency_a"], s[0], rtol=1e-5)


def test_mix_keeps_injected_assignment_and_queries(tmp_path):
    x, _ = _clouds(2, 6)
    perm = np.random.default_rng(0).permutation(N)
    res = _mix({"method": "sagemix", "sigma": 0.3, "pi": 0.25}, a=x[0], b=x[1], label_a=0, label_b=2,
               model=_model(), assignment=perm, queries=(4, 9))
    np.testing.assert_array_equal(res.arrays["assignment"], perm)
    assert res.metrics["queries"] == [4, 9]
    mixed, lam = sagemix.blend(x[0], x[1][perm], x[0][4], x[1][9], 0.3, 0.25)
    np.testing.assert_allclose(res.arrays["mixed"], mixed, atol=1e-6)
    path = tmp_path / "r.h5"
    save_result(res, path)
    back = load_result(path)
    import h5py
    with h5py.File(path) as f:
        assert f.attrs["sigma"] == 0.3 and f.attrs["pi"] == 0.25
    np.testing.assert_array_equal(back.arrays["assignment"], perm)


def test_mix_pointmixup_and_rsmix_without_a_model():
    x, _ = _clouds(2, 7)
    pm = _mix({"method": "pointmixup", "pi": 0.7}, a=x[0], b=x[1], label_a=1, label_b=2, classes=CLASSES)
    perm = pm.arrays["assignment"]
    np.testing.assert_allclose(pm.arrays["mixed"], 0.7 * x[0] + 0.3 * x[1][perm], atol=1e-6)
    assert pm.metrics["label"] == pytest.approx({"disc": 0.7, "stick": 0.3})
    assert "saliency_a" not in pm.arrays
    rs = _mix({"method": "rsmix", "radius": 0.5, "seed": 1}, a=x[0], b=x[1], label_a=1, label_b=2)
    src = rs.arrays["assignment"]
    moved = src >= 0
    assert rs.metrics["lambda"] == pytest.approx(1 - moved.mean())
    np.testing.assert_allclose(rs.arrays["mixed"][~moved], x[0][~moved])
    assert rs.metrics["assignment_cost"] is None


def test_identical_clouds_mix_to_themselves_in_every_method():
    x, _ = _clouds(1, 8)
    for method in ("sagemix", "pointmixup"):
        res = _mix({"method": method, "seed": 2}, a=x[0], b=x[0].copy(), label_a=0, label_b=0, model=_model(),
                   classes=CLASSES)
        np.testing.assert_allclose(res.arrays["mixed"], x[0], atol=1e-6)
        assert res.metrics["label"] == {"shell": 1.0}


def test_mix_errors_name_what_to_fix():
    x, _ = _clouds(2, 9)
    with pytest.raises(ParameterError, match="checkpoint"):
        _mix({"method": "sagemix"}, a=x[0], b=x[1], label_a=0, label_b=1)
    with pytest.raises(Exception, match="same size"):
        _mix({"method": "pointmixup"}, a=x[0], b=x[1][:10], label_a=0, label_b=1)
    with pytest.raises(ParameterError, match="bijection"):
        _mix({"method": "pointmixup"}, a=x[0], b=x[1], label_a=0, label_b=1, assignment=np.zeros(N, int))


@pytest.mark.parametrize("name", ["sagemix", "pointmixup", "rsmix"])
def test_augmentations_give_soft_labels_and_leave_the_model_alone(name):
    cls = AUGMENTATIONS.get(name)
    for opt, spec in cls.cli_options.items():
        assert len(spec) == 3 and isinstance(spec[2], str)
    aug = cls(mix_prob=1.0)
    x, y = _clouds(4, 10)
    model = _model()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pts, soft = aug(model, torch.from_numpy(x), torch.from_numpy(y), 3, torch.Generator().manual_seed(0))
    assert pts.shape == (4, N, 3) and soft.shape == (4, 3)
    torch.testing.assert_close(soft.sum(1), torch.ones(4))
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    again, soft2 = aug(model, torch.from_numpy(x), torch.from_numpy(y), 3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, pts)
    skip = cls(mix_prob=0.0)(model, torch.from_numpy(x), torch.from_numpy(y), 3, torch.Generator())
    torch.testing.assert_close(skip[0], torch.from_numpy(x))


def test_train_command_with_sagemix(files, tmp_path):
    out = tmp_path / "sage.safetensors"
    rc = main(["train", "--model", "pointnet", "--data", files["data"], "--epochs", "1", "--width", "0.125",
               "--points", str(N), "--batch-size", "4", "--augment", "sagemix", "--sigma", "0.5",
               "--theta", "0.4", "--out", str(out), "--json"])
    assert rc == 0 and out.exists()
    with pytest.raises(SystemExit):
        main(["train", "--model", "pointnet", "--data", files["data"], "--augment", "sagemix",
              "--sigma", "abc"])


def test_mix_command_json_and_file(files, tmp_path, capsys):
    out = tmp_path / "m.h5"
    rc = main(["mix", "sagemix", "--checkpoint", files["ckpts"][0], "--data", files["data"], "--a", "0",
               "--b", "1", "--sigma", "0.5", "--pi", "0.4", "--seed", "2", "--out", str(out), "--json"])
    assert rc == 0
    m = json.loads(capsys.readouterr().out)
    assert set(m["label"]) == {"shell", "disc"} and m["queries"][0] >= 0
    assert sum(m["label"].values()) == pytest.approx(1.0)
    res = load_result(out)
    assert res.params["sigma"] == 0.5 and res.params["pi"] == 0.4
    assert m["lambda"] == pytest.approx(float(res.arrays["lambda"].mean()), rel=1e-6)
    assert m["assignment_cost"] == pytest.approx(assign_exact(res.arrays["source_a"], res.arrays["source_b"])[1])
    assert main(["mix", "rsmix", "--data", files["data"], "--a", "0", "--b", "99"]) == 2
    assert "outside split" in capsys.readouterr().err


def test_robustness_table_matches_direct_evaluation(files, capsys):
    rc = main(["robustness", "--checkpoints", ",".join(files["ckpts"]), "--data", files["data"],
               "--corruptions", "noise:0.05,dropout:0.5", "--json"])
    assert rc == 0
    m = json.loads(capsys.readouterr().out)
    assert m["columns"] == ["clean", "noise:0.05", "dropout:0.5"]
    assert [r["name"] for r in m["table"]] == ["m0", "m1"]
    # independent: the second model on the corrupted clouds, metrics computed here
    xe, ye = files["test"]
    model = _model(1)
    for col in ("noise:0.05", "dropout:0.5"):
        xc = corruptions.apply(xe, col, seed=0)
        with torch.no_grad():
            logits = model(torch.from_numpy(xc)).numpy()
        assert m["table"][1][col] == pytest.approx(metrics.accuracy(logits, ye))
    with torch.no_grad():
        logits = model(torch.from_numpy(xe)).numpy()
    assert m["table"][1]["ece"] == pytest.approx(metrics.expected_calibration_error(logits, ye), abs=1e-6)
    rc = main(["robustness", "--checkpoints", files["ckpts"][0], "--data", files["data"], "--limit", "3"])
    text = capsys.readouterr().out
    assert rc == 0 and "rotate-z:180" in text and "ECE" in text
