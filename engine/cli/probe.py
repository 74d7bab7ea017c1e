"""`pointlens probe --checkpoint C --data D [--points N] [--limit N] [--json]`.

Linear-SVM accuracy of a frozen network's global features (ParAE paper, Table 1): trained on
the dataset's train split, scored on its test split, for the checkpoint and for a randomly
initialised network of the same architecture. JSON contract: ``pretrained``, ``random_init``
(the best random baseline; ``random_init_best`` names it), ``random_init_bn_from_data``,
``random_init_default_bn`` (accuracies in [0, 1]), ``n_train``, ``n_test``, ``feature_dim``.
``--out R.h5`` also saves the t-SNE embedding of the test features (paper Fig. 4).
"""
from __future__ import annotations

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.parae import PROBE


def register(subparsers) -> None:
    p = subparsers.add_parser("probe", help="linear-SVM probe of a network's learnt global features")
    p.add_argument("--checkpoint", required=True, help="checkpoint path or demo:<model>")
    p.add_argument("--data", required=True, help="labelled dataset (path or 'builtin') with train and test splits")
    p.add_argument("--C", dest="c", type=float, default=None, help="the same as --c")
    p.add_argument("--no-baseline", action="store_true", help="skip the random-init baselines (= --baseline false)")
    p.add_argument("--tsne", action="store_true", default=None,
                   help="compute the t-SNE embedding of the test features (always with --out)")
    p.add_argument("--out", default=None, help="save the result (accuracies, embedding) to this .h5 file")
    add_device(p)
    add_json(p)
    # --c, --limit, --points, --batch-size, --baseline, --perplexity, --seed
    add_params(p, PROBE, skip=("tsne",))
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.set_defaults(func=probe_command)


def probe_params(args) -> dict:
    """The given parameters. Without --tsne the embedding is computed only when saved (--out)."""
    params = given_params(args, PROBE)
    if args.no_baseline:
        params["baseline"] = False
    params.setdefault("tsne", bool(args.out))
    return params


def probe_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    result = run_job(Job("probe", {"data": args.data}, probe_params(args), model=checkpoint_choice(args),
                         device=args.device))
    if args.out:
        save_result(result, args.out)
    m = dict(result.metrics)
    out = {k: m[k] for k in ("pretrained", "random_init", "random_init_best", "random_init_bn_from_data",
                             "random_init_default_bn", "n_train", "n_test", "feature_dim", "c") if k in m}
    out.update(checkpoint=args.checkpoint, data=args.data, points=result.params["points"])
    if args.out:
        out["out"] = args.out
    lines = [f"linear SVM on frozen global features ({out['n_train']} train / {out['n_test']} test, "
             f"{out.get('feature_dim')}-d):",
             f"  pre-trained:               {100 * out['pretrained']:5.1f} %"]
    if "random_init" in out:
        lines += [f"  random init, BN from data: {100 * out['random_init_bn_from_data']:5.1f} %  (BatchNorm statistics from the data)",
                  f"  random init, identity BN:  {100 * out['random_init_default_bn']:5.1f} %  (a fresh network's BatchNorm)",
                  f"  pre-trained minus the best random baseline: {100 * (out['pretrained'] - out['random_init']):+.1f} points"]
    emit(args, out, "\n".join(lines))
    return 0
