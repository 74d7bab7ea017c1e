"""`pointlens explain pointmask --checkpoint C --data D --index I [--split test] [--threshold T]
[--sample-seed S] [--points N] --out R.h5 [--json]`.

Runs METHOD "pointmask-explain" on one sample: the per-point mask probability sigmoid(J) (eps = 0),
the mask M and kept points at threshold t, and the prediction without the mask (``predicted``),
on the masked cloud P * M (``predicted_masked``), on the kept points alone
(``predicted_kept_only``) and the model's own sampled-mask prediction (``predicted_model``); the
JSON's ``definitions`` says which is which. PointMap checkpoints give the mapped cloud instead.
The method's parameters (range, default) come from its spec, engine/specs/pointmask.py; a
``--threshold`` given alone turns ``--model-threshold`` off.
"""
from __future__ import annotations

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.pointmask import EXPLAIN

JSON_KEYS = ("model", "kept", "total", "threshold", "predicted", "predicted_name", "predicted_masked",
             "predicted_masked_name", "predicted_kept_only", "predicted_kept_only_name", "predicted_model",
             "predicted_model_name", "label", "label_name", "mean_displacement", "definitions")


def register(explain_subparsers) -> None:
    p = explain_subparsers.add_parser("pointmask", help="PointMask/PointMap: which points the classifier keeps")
    p.add_argument("--checkpoint", default="demo:pointmask",
                   help="PointMask or PointMap checkpoint (default demo:pointmask)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--index", type=int, default=0, help="sample index in the split (default 0)")
    p.add_argument("--split", default="test", help="split name (default test)")
    p.add_argument("--points", type=int, default=None,
                   help="points per cloud (default: as the checkpoint was trained, else 1024)")
    add_params(p, EXPLAIN)
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    p.set_defaults(func=explain_pointmask_command)


def explain_pointmask_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    inputs = {"data": args.data, "index": args.index, "split": args.split, "n_points": args.points}
    params = given_params(args, EXPLAIN)
    if "threshold" in params:                 # a threshold given is the one used
        params.setdefault("model_threshold", False)
    result = run_job(Job("pointmask-explain", inputs, params, model=checkpoint_choice(args), device=args.device))
    if args.out:
        save_result(result, args.out)
    m = result.metrics
    out = {k: m[k] for k in JSON_KEYS if k in m}
    if args.out:
        out["out"] = str(args.out)
    text = (f"{m['model']}: kept {m['kept']} of {m['total']} points at t = {m['threshold']:g}\n"
            f"predicted (no mask):        {m['predicted_name']}\n"
            f"predicted_masked (P * M):   {m['predicted_masked_name']}\n"
            f"predicted_kept_only:        {m.get('predicted_kept_only_name')}\n"
            f"predicted_model (sampled):  {m['predicted_model_name']}"
            + (f"\nlabel:                      {m['label_name']}" if "label_name" in m else "")
            + (f"\nsaved {args.out}" if args.out else ""))
    emit(args, out, text)
    return 0
