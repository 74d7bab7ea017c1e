"""The ParAE model on the built-in dataset: the loss falls, the features beat a random network,
the encoder transfers to a PointNet classifier, and one cloud's explanation is consistent."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import Loading, open_dataset
from engine.core.errors import ModelError, ParameterError
from engine import Job, run_sync, run, start
from engine.models.zoo import build_model

POINTS, PARTS, WIDTH, STEPS = 256, 16, 0.125, 200


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny ParAE trained for a few seconds on builtin (our own loop: no labels touched)."""
    from engine.models.checkpoints import save_checkpoint

    x, _ = open_dataset("builtin", Loading(points=POINTS)).split("train").arrays()
    torch.manual_seed(0)
    model = build_model("parae", parts=PARTS, width=WIDTH)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    curve = []
    model.train()
    for _ in range(STEPS):
        batch = torch.as_tensor(x[torch.randint(0, len(x), (16,), generator=gen).numpy()])
        loss, stats = model.training_loss(batch, None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(stats["nll"])
    model.eval()
    path = tmp_path_factory.mktemp("parae") / "parae.safetensors"
    save_checkpoint(path, model, {"classes": []})
    return model, path, np.array(curve)


def test_loss_falls_during_training(trained):
    _, _, curve = trained
    assert np.isfinite(curve).all()
    first, last = curve[:20].mean(), curve[-20:].mean()
    assert last < first - 0.15, (first, last)


def test_probe_beats_the_random_init_baseline(trained):
    _, path, _ = trained
    result = run(Job("probe", {"data": "builtin"},
                     {"points": POINTS, "limit": 200, "batch_size": 50, "tsne": True}, model=str(path)))
    m = result.metrics
    assert m["n_train"] == 200 and m["n_test"] == 200 and m["feature_dim"] == 128
    print(m)
    assert m["pretrained"] > m["random_init_bn_from_data"] + 0.05, m
    assert 0.0 <= m["random_init_default_bn"] <= 1.0
    # random_init is the best random baseline, named, so "beats random" means beats all of them
    baselines = {k: m[k] for k in ("random_init_bn_from_data", "random_init_default_bn")}
    assert m["random_init"] == max(baselines.values()) and baselines[m["random_init_best"]] == m["random_init"]
    # Balanced subset (20 per class) and an embedding per test sample.
    assert np.bincount(result.arrays["labels"]).tolist() == [20] * 10
    assert result.arrays["embedding"].shape == (200, 2)
    assert np.isfinite(result.arrays["embedding"]).all()


def test_random_baseline_batchnorm_statistics_come_from_the_data(trained):
    from engine.data import open_dataset as od
    from engine.methods.parae.probe import calibrate_batchnorm, random_init_like

    model, _, _ = trained
    split = od("builtin", Loading(points=64)).split("train")
    fresh = random_init_like(model, seed=3)
    same = random_init_like(model, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), same.state_dict().values()))
    idx = np.arange(0, 1000, 125)                    # one batch of 8 clouds
    list(calibrate_batchnorm(fresh, split, idx, batch_size=8))
    x = torch.as_tensor(split.arrays(indices=idx)[0])
    with torch.no_grad():
        pre = fresh.backbone.feat.stn.conv1(x.transpose(1, 2))     # first BatchNorm's input
    bn = fresh.backbone.feat.stn.bn1
    np.testing.assert_allclose(bn.running_mean.numpy(), pre.mean((0, 2)).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), pre.var((0, 2), unbiased=True).numpy(), rtol=1e-3)
    assert not fresh.training and bn.momentum == 0.1
    # Weights untouched by the calibration.
    assert torch.equal(fresh.backbone.conv4.weight, same.backbone.conv4.weight)


def test_encoder_transfers_to_a_pointnet_classifier(trained):
    model, _, _ = trained
    enc = model.encoder_state_dict()
    clf = build_model("pointnet", num_classes=10, width=WIDTH).eval()
    target = clf.state_dict()
    assert set(enc) == {k for k in target if k.startswith("feat.")}
    assert all(enc[k].shape == target[k].shape for k in enc)
    missing, unexpected = clf.load_state_dict(enc, strict=False)
    assert not unexpected and all(not k.startswith("feat.") for k in missing)
    x = torch.rand(2, 64, 3) - 0.5
    with torch.no_grad():
        assert torch.allclose(clf.feat(x)["global"], model.global_features(x), atol=1e-6)


def test_explain_one_cloud_is_consistent(trained, tmp_path):
    from engine.methods.parae.explain import grid_from_result, gmm_from_result, isosurface, mixture_density
    from engine.results import load_result, save_result

    _, path, _ = trained
    result = run(Job("parae-explain", {"data": "builtin", "index": 7, "n_points": POINTS},
                     {"resolution": 32}, model=str(path)))
    a = result.arrays
    pts, gamma = a["points"].astype(np.float64), a["responsibilities"].astype(np.float64)
    assert pts.shape == (POINTS, 3) and gamma.shape == (POINTS, PARTS)
    np.testing.assert_array_equal(a["partition"], gamma.argmax(1))
    # pi, mu, Sigma are eq. (5)-(7) of the returned responsibilities (+ eps I).
    np.testing.assert_allclose(a["pi"], gamma.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["mu"], gamma.T @ pts / gamma.sum(0)[:, None], rtol=1e-4, atol=1e-5)
    j = int(np.argmax(a["pi"]))
    cov = np.cov(pts.T, aweights=gamma[:, j], bias=True) + result.metrics["eps"] * np.eye(3)
    np.testing.assert_allclose(a["sigma"][j], cov, rtol=1e-3, atol=1e-6)
    assert result.metrics["nll"] == pytest.approx(-np.log(mixture_density(gmm_from_result(result), pts)).mean(),
                                                  rel=1e-4)
    assert a["point_features"].shape[0] == POINTS and len(a["iso_faces"]) > 0
    # The isosurface's vertices lie on g = level; about 5% of the points lie outside it.
    level = result.metrics["level"]
    rel = np.abs(mixture_density(gmm_from_result(result), a["iso_vertices"]) / level - 1)
    assert np.median(rel) < 0.03 and np.quantile(rel, 0.95) < 0.2    # linear interpolation, 32^3
    assert np.mean(a["point_density"] < level) == pytest.approx(0.05, abs=0.01)
    # Saved and re-opened: the required datasets, and re-contouring the cached grid is the same.
    out = tmp_path / "r.h5"
    save_result(result, out)
    back = load_result(out)
    for name in ("points", "pi", "mu", "sigma", "partition", "iso_vertices", "iso_faces"):
        np.testing.assert_array_equal(back.arrays[name], a[name])
    v, f = isosurface(None, level, grid_from_result(back))
    np.testing.assert_allclose(v, a["iso_vertices"], atol=1e-6)


def test_model_rejects_bad_settings():
    with pytest.raises(ParameterError, match="parts"):
        build_model("parae", parts=0, width=WIDTH)
    model = build_model("parae", parts=40, width=WIDTH)
    with pytest.raises(ParameterError, match="more than the 32 points"):
        model.training_loss(torch.rand(2, 32, 3), None)
    with pytest.raises(ModelError, match="needs a 'parae' model; this is 'pointnet'"):
        run(Job("parae-explain", {"points": np.random.rand(32, 3)}, model=build_model("pointnet", width=WIDTH)))


def test_pointnet_classifier_initialises_from_the_parae_encoder(trained):
    from engine.training.state import init_from

    model, path, _ = trained
    clf = build_model("pointnet", num_classes=10, width=WIDTH)
    copied, total, text = init_from(clf, str(path))
    enc = model.encoder_state_dict()
    assert copied == sum(not k.endswith("num_batches_tracked") for k in enc) and copied < total
    own = clf.state_dict()
    assert all(torch.equal(own[k], v) for k, v in enc.items())


def test_cli_train_explain_and_probe(trained, tmp_path, capsys):
    import json

    import h5py

    from engine.cli import main
    from engine.models.checkpoints import read_meta

    ckpt = tmp_path / "tiny.safetensors"
    assert main(["train", "--model", "parae", "--data", "builtin", "--parts", "4", "--eps", "0.002",
                 "--width", str(WIDTH), "--points", "64", "--epochs", "1", "--limit", "32",
                 "--batch-size", "16", "--out", str(ckpt), "--json"]) == 0
    config = read_meta(ckpt)["config"]
    assert config["parts"] == 4 and config["eps"] == 0.002
    capsys.readouterr()

    _, path, _ = trained
    out = tmp_path / "r.h5"
    assert main(["explain", "parae", "--checkpoint", str(path), "--data", "builtin", "--index", "2",
                 "--points", "128", "--resolution", "24", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["parts"] == PARTS and summary["points"] == 128 and summary["level"] > 0
    with h5py.File(out) as f:
        assert f["points"].shape == (128, 3) and f["pi"].shape == (PARTS,)
        assert f["mu"].shape == (PARTS, 3) and f["sigma"].shape == (PARTS, 3, 3)
        assert f["partition"].shape == (128,) and f["iso_faces"].shape[1] == 3
        assert f["iso_vertices"].shape[0] == summary["iso_vertices"]

    assert main(["probe", "--checkpoint", str(path), "--data", "builtin", "--points", "128",
                 "--limit", "40", "--json"]) == 0
    probe = json.loads(capsys.readouterr().out)
    assert 0 <= probe["pretrained"] <= 1 and 0 <= probe["random_init"] <= 1
    assert probe["random_init"] == max(probe["random_init_bn_from_data"], probe["random_init_default_bn"])
    assert probe["n_train"] == 40 and probe["n_test"] == 40
    # A bad index is one clear line, exit status 2.
    assert main(["explain", "parae", "--checkpoint", str(path), "--data", "builtin", "--index", "5000"]) == 2
    assert "index 5000 is outside split 'test'" in capsys.readouterr().err


def test_cli_options_come_from_the_spec():
    """The explain/probe options are the specs' parameters; the old spellings still work."""
    from engine.cli import build_parser
    from engine.cli.explain_parae import explain_params
    from engine.cli.probe import probe_params

    parser = build_parser()

    def explain(*argv):
        return explain_params(parser.parse_args(["explain", "parae", "--data", "builtin", *argv]))

    def probe(*argv):
        return probe_params(parser.parse_args(["probe", "--checkpoint", "c", "--data", "builtin", *argv]))

    assert explain() == {}
    assert explain("--level", "0.5", "--resolution", "24") == {"level": 0.5, "auto_level": False, "resolution": 24}
    assert explain("--level", "0") == {"auto_level": True}             # 0: automatic, as before
    assert probe() == {"tsne": False}
    assert probe("--C", "2", "--tsne", "--no-baseline") == {"c": 2.0, "tsne": True, "baseline": False}
    assert probe("--c", "3", "--out", "r.h5", "--points", "128") == {"c": 3.0, "points": 128, "tsne": True}
