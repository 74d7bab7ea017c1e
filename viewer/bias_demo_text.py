"""The bias demo's Qt-free parts: the letters as the bias lab places them, the sample clouds
(loaded on the engine thread), and the texts of the reveal and mask steps, written from the
numbers of the run (never from the paper's claims)."""
from __future__ import annotations

import math

import numpy as np

MODELS = (("pointnet", "PointNet"), ("pointmask", "PointMask"), ("randmask", "RandMask"))
NAMES = dict(MODELS)
MASK_NAMES = ("kept", "dropped", "letter kept")


def letter_categories(kept: np.ndarray, is_bias: np.ndarray) -> np.ndarray:
    """0 kept object point / 1 dropped point / 2 kept letter point: the PointMask panel's
    colours (blue, grey, red), with a dropped letter point shown as dropped (grey)."""
    cat = np.where(kept, 0, 1).astype(np.int64)
    cat[np.asarray(is_bias, bool) & kept] = 2
    return cat


def inject(points: np.ndarray, c: int, num_classes: int, k: int, seed: int) -> np.ndarray:
    """One cloud with class c's letter appended as k points, placed as bias_lab places it
    ('per-class', distance 1.5, scale 0.5)."""
    from engine import class_letter, letter_anchor, place_letter

    if k <= 0:
        return np.asarray(points, np.float32)
    return place_letter(points, class_letter(c), k, letter_anchor(c, num_classes), 0.5,
                        np.random.default_rng([int(seed), int(c)]))


def load_samples(classes: list[str], points: int, seed: int, per_class: int = 5) -> dict:
    """ENGINE THREAD: the first train cloud ("train" (K, N, 3)) and the first ``per_class`` test
    clouds ("test" (K, per_class, N, 3)) of each class of the built-in dataset, cut to ``points``
    exactly as the bias lab's loader cuts them."""
    from engine import Loading, open_dataset

    ds = open_dataset("builtin", Loading(points=points, sampling="random", seed=seed))
    out = {}
    for split, m in (("train", 1), ("test", per_class)):
        sp = ds.split(split)
        labels = np.asarray(sp.labels)
        out[split] = np.stack([np.stack([sp[int(i)].points for i in np.flatnonzero(labels == ds.classes.index(name))[:m]])
                               for name in classes]).astype(np.float32)
    out["train"] = out["train"][:, 0]
    return out


def pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.0f} %"


def reveal_text(acc: dict, models: list[str], chance: float) -> str:
    """One sentence per model, from this run's numbers."""
    lines = []
    for m in models:
        b, u = acc["biased"][m], acc["unbiased"][m]
        drop = (b or 0) - (u or 0)
        verdict = ("it has not learnt much yet (train longer)" if (b or 0) < chance + 0.1 else
                   "it learnt the letter, hardly the object" if drop >= 0.3 and (u or 0) < chance + 0.25 else
                   "it leans on the letter" if drop >= 0.3 else
                   "the letter helps it, but it still knows some objects" if drop >= 0.1 else
                   "it does not depend on the letter")
        lines.append(f"<b>{NAMES.get(m, m)}</b>: {pct(b)} with the letter, <b>{pct(u)}</b> without it: {verdict}.")
    lines.append(f"Guessing would score {pct(chance)}.")
    return "<br>".join(lines)


def mask_text(acc: dict, runs: list[dict], res_metrics: dict, n_letter: int, kept_letter: int,
              n_object: int, kept_object: int, keep_p: tuple[float, float] | None = None) -> str:
    """What the mask did on this sample and on the whole biased test split, and how PointMask
    compares with PointNet in this run (honest: phrased from the numbers). ``kept_*``: one noise
    draw of the mask; ``keep_p``: the mean chance a draw keeps a letter / an object point."""
    lines = [f"On this {res_metrics.get('label_name', '')}, one draw of PointMask's mask keeps "
             f"<b>{kept_letter} of {n_letter}</b> letter points (red) and {kept_object} of {n_object} object "
             f"points; it predicts <b>{res_metrics.get('predicted_model_name', '?')}</b>."]
    if keep_p is not None:
        lines.append(f"A draw keeps each letter point with probability {pct(keep_p[0])} and each object point "
                     f"with {pct(keep_p[1])}: a new random mask every time.")
    run = next((r for r in runs if r.get("model") == "pointmask"), {})
    lk, ok = run.get("letter_keep_prob", run.get("letter_kept")), run.get("object_keep_prob", run.get("object_kept"))
    if lk is not None and ok is not None:
        how = ("its mask drops the letter more often than the object" if lk < ok - 0.1 else
               "its mask keeps the letter MORE often than the object: the mask itself learnt to look at the "
               "letter" if lk > ok + 0.1 else
               "its mask keeps letter and object alike, so the letter still reaches the classifier")
        lines.append(f"Over all biased test clouds it keeps {pct(lk)} of letter points and {pct(ok)} of "
                     f"object points: {how}.")
    pm, pn = acc["unbiased"].get("pointmask"), acc["unbiased"].get("pointnet")
    if pm is not None and pn is not None:
        if pm >= pn + 0.1:
            lines.append(f"Without the letter PointMask scores {pct(pm)}, PointNet {pct(pn)}: here the mask "
                         "gave a clear margin, as the paper reports (its Fig. 4).")
        elif pm > pn - 0.1:
            lines.append(f"Without the letter PointMask scores {pct(pm)}, PointNet {pct(pn)}: no clear margin "
                         "in this small run (the paper reports one for full-size models on ModelNet, its Fig. 4).")
        else:
            lines.append(f"Without the letter PointMask scores {pct(pm)}, below PointNet's {pct(pn)}: in this "
                         "small run the mask did not protect it (the paper's margin is for full-size models).")
    return "<br>".join(lines)
