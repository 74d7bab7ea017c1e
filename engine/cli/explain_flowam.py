"""`pointlens explain flowam --checkpoint C --data D --class NAME [--method M] ... --out R.h5 [--json]`.

A global explanation of one class by Flow AM or a baseline (METHOD "flowam"). The result file
holds ``points`` (N, 3), ``init``, the replay ``history`` (T, N, 3) with ``history_steps`` and
``loss_<term>`` (T,), and ``real_examples`` (the 5 real objects of the Chamfer metric).
JSON: class, method, logit, softmax, chamfer, fid, legality, predicted (+ log_softmax,
chamfer_eq7, legal, success, fid details, seconds).

``--class all`` explains every class and prints the Table I row of the method: the mean over
classes, and the FID of the set of all explanations against real objects of all classes
(REFERENCES 3.3: FID over sets). Its result file holds ``points`` (K, N, 3), one per class.
"""
from __future__ import annotations

import numpy as np

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, parse_kv, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.flowam import FLOWAM

KEYS = ("class", "method", "logit", "softmax", "log_softmax", "chamfer", "chamfer_eq7", "fid",
        "legality", "legal", "predicted", "success")


def register(explain_subparsers) -> None:
    p = explain_subparsers.add_parser("flowam", help="Flow AM: a global explanation of a class")
    p.add_argument("--checkpoint", default="demo:pointnet", help="classifier checkpoint (default demo:pointnet)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin' (class statistics, metrics)")
    p.add_argument("--class", dest="target", required=True, help="class name or index, or 'all'")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="any parameter of the flowam method as NAME=VALUE (repeatable), e.g. lr=0.005")
    p.add_argument("--out", required=True, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    add_params(p, FLOWAM)       # --method, --steps, --beta, --seed, --points, --set-size, ... from the spec
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.set_defaults(func=explain_flowam_command)


def _params(args) -> dict:
    return {**parse_kv(args.param), **given_params(args, FLOWAM)}


def explain_flowam_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    params = _params(args)
    if str(args.target).lower() == "all":
        return _all_classes(args, params)
    result = run_job(Job("flowam", {"data": args.data, "target": args.target}, params,
                         model=checkpoint_choice(args), device=args.device))
    save_result(result, args.out)
    m = result.metrics
    out = {k: m[k] for k in KEYS}
    out.update({k: m[k] for k in m if k.startswith("fid_")})
    out.update(steps=m["steps"], seconds=round(m["seconds"], 3), checkpoint=args.checkpoint,
               data=args.data, out=args.out)
    text = (f"{m['method']} explanation of '{m['class']}' ({m['steps']} steps, {m['seconds']:.1f} s): "
            f"predicted {m['predicted']}\n"
            f"logit {m['logit']:.3f}  softmax {m['softmax']:.4f}  Chamfer {m['chamfer']:.4f}  "
            f"FID {m['fid']:.4g} (set of {m['fid_set_size']})  legality {100 * m['legality']:.1f}%\n"
            f"saved {args.out}")
    emit(args, out, text)
    return 0


def _all_classes(args, params: dict) -> int:
    from engine.catalog import resolve_model
    from engine.core.jobs import Job, make_params
    from engine.core.types import Result
    from engine.methods.flowam.inputs import resolve_inputs
    from engine.methods.flowam.metrics import fid_all_classes
    from engine.methods.flowam.stats import load_clouds
    from engine.results import save_result

    p = make_params(FLOWAM.params, params, "method 'flowam'")
    loaded = resolve_model(checkpoint_choice(args), args.device, FLOWAM)     # loaded once for every class
    model, ds, classes, _ = resolve_inputs(loaded, None, args.data)
    rows, clouds = [], []
    for c in range(len(classes)):
        r = run_job(Job("flowam", {"dataset": ds, "target": c}, p, model=loaded, device=args.device))
        rows.append({k: r.metrics[k] for k in KEYS})
        clouds.append(r.arrays["points"])
    ref = p.reference_split if p.reference_split in ds.splits else p.stats_split
    split = ds.split(ref)
    labels = np.asarray(split.labels)
    pick = np.concatenate([np.flatnonzero(labels == c)[:p.fid_reals] for c in range(len(classes))])
    reals = load_clouds(split, pick, p.points)
    layers = [s.strip() for s in p.fid_layers.split(",") if s.strip()]
    fid = fid_all_classes(model, np.stack(clouds), reals, layers)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in
            ("logit", "softmax", "log_softmax", "chamfer", "chamfer_eq7", "legality", "legal", "success")}
    ok = [r for r in rows if r["success"]]
    mean["chamfer_successful"] = float(np.mean([r["chamfer"] for r in ok])) if ok else float("nan")
    out = {"method": p.method, "classes": len(classes), "steps": p.steps, "mean": mean,
           "fid_all_classes": fid, "per_class": rows, "checkpoint": args.checkpoint, "data": args.data,
           "out": args.out}
    save_result(Result("flowam-table", arrays={"points": np.stack(clouds)},
                       metrics={k: v for k, v in out.items() if k != "out"}, params=params), args.out)
    lines = [f"{p.method}: {len(classes)} classes, {p.steps} steps"]
    for r in rows:
        lines.append(f"  {r['class']:<14} logit {r['logit']:8.3f}  softmax {r['softmax']:.4f}  "
                     f"CD {r['chamfer']:.4f}  legality {100 * r['legality']:5.1f}%  predicted {r['predicted']}")
    lines.append(f"mean: logit {mean['logit']:.3f}  softmax {mean['softmax']:.4f}  CD {mean['chamfer']:.4f}  "
                 f"FID(all classes) {fid['fid']:.4g}  legality {100 * mean['legality']:.1f}%  "
                 f"legal {100 * mean['legal']:.0f}%  success {100 * mean['success']:.0f}%")
    emit(args, out, "\n".join(lines))
    return 0
