"""The "pointmask-explain" method, the instant threshold view and `pointlens explain pointmask`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.core.errors import ModelError, ParameterError
from engine import Job, run_sync, run, start
from engine.models.zoo import build_model
from engine.methods.pointmask.explain import mask_at_threshold

CLASSES = ["a", "b", "c", "d"]


def _model(key="pointmask", **kw):
    torch.manual_seed(0)
    m = build_model(key, num_classes=4, width=0.125, **kw).eval()
    torch.nn.init.normal_(m.encoder.mu.weight, std=0.5)     # a mask that varies over the points
    return m


def _points(n=48, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


def test_explain_arrays_follow_the_mask_formula():
    model, pts = _model(), _points()
    with torch.no_grad():      # a threshold that keeps about half of the points
        t = float(np.median(model.mask(torch.from_numpy(pts)[None])[0].numpy()))
    model.threshold = t
    res = run(Job("pointmask-explain", {"points": pts, "label": 2}, model=model))
    with torch.no_grad():
        x = torch.from_numpy(pts)[None]
        mu, logvar = model.encoder(x)
        prob = torch.sigmoid(mu)[0].numpy()
        unmasked = model.classifier(x).argmax().item()
        masked = model.classifier(x * torch.clamp(torch.sigmoid(mu) - t, 0, 1)[..., None]).argmax().item()
        own = model(x).argmax().item()
    a, m = res.arrays, res.metrics
    np.testing.assert_allclose(a["mask_probability"], prob, atol=1e-6)
    np.testing.assert_allclose(a["mask"], np.clip(prob - t, 0, 1), atol=1e-6)
    assert (a["kept"] == (prob > t)).all() and 0 < a["kept"].sum() < len(pts)
    np.testing.assert_allclose(a["sigma"], torch.exp(0.5 * logvar)[0].numpy(), atol=1e-6)
    assert m["kept"] == int((prob > t).sum()) and m["total"] == len(pts) and m["threshold"] == t
    assert (m["predicted"], m["predicted_masked"], m["predicted_model"]) == (unmasked, masked, own)
    with torch.no_grad():
        kept_only = model.classifier(x[:, torch.from_numpy(a["kept"])]).argmax().item()
    assert m["predicted_kept_only"] == kept_only
    assert set(m["definitions"]) >= {"predicted", "predicted_masked", "predicted_kept_only"}
    assert m["label"] == 2 and a["probabilities"].shape == (4,)


def test_keep_probability_is_the_chance_a_noise_draw_keeps_the_point():
    # P(sigmoid(mu + sigma eps) > t) = Phi((mu - logit t) / sigma): against scipy and a sampling count
    from scipy.stats import norm

    model, pts = _model(), _points()
    model.threshold = 0.8
    res = run(Job("pointmask-explain", {"points": pts}, {"sample_seed": 3}, model=model))
    a = res.arrays
    with torch.no_grad():
        mu, logvar = model.encoder(torch.from_numpy(pts)[None])
    mu, sigma = mu[0].double().numpy(), torch.exp(0.5 * logvar)[0].double().numpy()
    want = norm.cdf((mu - np.log(0.8 / 0.2)) / sigma)
    np.testing.assert_allclose(a["keep_probability"], want, atol=1e-5)
    draws = 1 / (1 + np.exp(-(mu + sigma * np.random.default_rng(0).normal(size=(4000, len(pts)))))) > 0.8
    np.testing.assert_allclose(draws.mean(0), want, atol=0.03)
    eps = torch.randn(len(pts), generator=torch.Generator().manual_seed(3)).double().numpy()
    assert (a["kept_sampled"] == (1 / (1 + np.exp(-(mu + sigma * eps))) > 0.8)).all()
    assert res.metrics["kept_sampled"] == int(a["kept_sampled"].sum())


def test_threshold_override_and_nothing_kept():
    model, pts = _model(threshold=0.45), _points()
    res = run(Job("pointmask-explain", {"points": pts},
                       {"model_threshold": False, "threshold": 0.999}, model=model))
    assert res.metrics["threshold"] == 0.999 and res.metrics["kept"] == 0
    assert res.metrics["predicted_kept_only"] is None and not res.arrays["kept"].any()


def test_threshold_slider_needs_no_new_job():
    """Recolouring at a new t from the saved probability equals the model's mask at that t."""
    model, pts = _model(), _points()
    res = run(Job("pointmask-explain", {"points": pts}, model=model))
    for t in (0.0, 0.2, 0.5, 0.55, 0.9):
        m, kept = mask_at_threshold(res.arrays["mask_probability"], t)
        with torch.no_grad():
            _, ref = model.mask(torch.from_numpy(pts)[None], threshold=t)
        np.testing.assert_allclose(m, ref[0].numpy(), atol=1e-6)
        assert (kept == (ref[0].numpy() > 0)).all()
    with pytest.raises(ParameterError, match="threshold"):
        mask_at_threshold(res.arrays["mask_probability"], 1.0)


def test_pointmap_explain_gives_the_mapped_cloud():
    model, pts = _model("pointmap"), _points()
    res = run(Job("pointmask-explain", {"points": pts}, model=model))
    a = res.arrays
    np.testing.assert_allclose(a["mapped"], pts + a["displacement"], atol=1e-6)
    np.testing.assert_allclose(a["displacement_norm"], np.linalg.norm(a["displacement"], axis=1), atol=1e-5)
    assert res.metrics["kept"] == res.metrics["total"] == len(pts) and "mask" not in a


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ParameterError, match="threshold"):
        run(Job("pointmask-explain", {"points": _points()}, {"threshold": 1.0}, model=_model()))
    with pytest.raises(ParameterError, match="threshold"):
        run(Job("pointmask-explain", {"points": _points()}, {"threshold": -0.2}, model=_model()))
    pn = build_model("pointnet", num_classes=4, width=0.125).eval()
    with pytest.raises(ModelError, match="pointmask"):
        run(Job("pointmask-explain", {"points": _points()}, model=pn))


def test_cli_explain_pointmask_writes_a_result(tmp_path, capsys):
    from engine.cli import main
    from engine.data import save_h5
    from engine.models.checkpoints import save_checkpoint
    from engine.results import load_result

    model = _model(threshold=0.4)
    ckpt = save_checkpoint(tmp_path / "pm.safetensors", model,
                           {"classes": CLASSES, "config": model.config, "normalisation": {"points": 40}})
    rng = np.random.default_rng(1)
    data = tmp_path / "d.h5"
    save_h5(data, rng.normal(size=(6, 64, 3)).astype(np.float32), np.arange(6) % 4, CLASSES)
    out = tmp_path / "r.h5"
    rc = main(["explain", "pointmask", "--checkpoint", str(ckpt), "--data", str(data), "--split", "all",
               "--index", "3", "--out", str(out), "--json"])
    assert rc == 0
    js = json.loads(capsys.readouterr().out)
    assert {"kept", "total", "predicted", "predicted_masked"} <= set(js)
    assert js["total"] == 40 and js["threshold"] == 0.4 and js["label"] == 3
    saved = load_result(out)
    assert saved.kind == "pointmask-explain" and saved.arrays["mask_probability"].shape == (40,)
    assert int(saved.arrays["kept"].sum()) == js["kept"]
    rc = main(["explain", "pointmask", "--checkpoint", str(ckpt), "--data", str(data), "--split", "all",
               "--threshold", "1.5"])
    assert rc == 2 and "threshold" in capsys.readouterr().err
    # the generic `pointlens run` keeps nested metrics in its JSON (the bias lab's accuracy table
    # is one): here the class names and the definitions of the four predictions. In a process of
    # its own: run in this one, it left the test process in a state in which a later GUI test
    # crashed (a segfault in a render while a Flow AM job ran; not understood yet).
    import subprocess
    import sys

    cli = "import sys; from engine.cli import main; sys.exit(main(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", cli, "run", "pointmask-explain", "--checkpoint",
                          str(ckpt), "--data", str(data), "--split", "all", "--index", "3", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    js = json.loads(out.stdout.strip().splitlines()[-1])
    assert js["classes"] == CLASSES and set(js["definitions"]) == {"predicted", "predicted_masked",
                                                                   "predicted_kept_only", "predicted_model"}


def test_spec_arrays_are_there_and_the_cli_options_come_from_the_spec(capsys):
    from engine.cli import main
    from engine.specs.pointmask import EXPLAIN

    for key in ("pointmask", "pointmap"):
        res = run(Job("pointmask-explain", {"points": _points()}, model=_model(key)))
        assert set(EXPLAIN.arrays) <= set(res.arrays) and res.kind == EXPLAIN.produces
    with pytest.raises(SystemExit):
        main(["explain", "pointmask", "--help"])
    text = capsys.readouterr().out
    assert "--sample-seed" in text and "--threshold" in text and "[0.0, 1.0)" in text
