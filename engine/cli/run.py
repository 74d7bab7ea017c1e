"""`pointlens run METHOD [inputs] [--param V ...] [--checkpoint C] [--out R.h5] [--json]`: every
catalog method as a command generated from its spec, so a new method is on the command line
without a line of CLI code.

Inputs come from the spec: a method that takes a cloud (``points``) gets it from ``--data``,
``--index``, ``--split`` and ``--points`` (the sample is loaded here, its label passed where the
spec asks for one); a dataset input is ``--data``; index, split, count, target and indices inputs
are options of their own name. A method with a required input the command line cannot give
(an array such as a per-point scalar) is left out: use its own command or the Python API.
"""
from __future__ import annotations

import argparse

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, run_job
from engine.cli.parsing import one_line_errors
from engine.cli.spec_options import add_params, given_params
from engine.core.spec import MethodSpec

CLI_KINDS = {"points", "label", "dataset", "index", "split", "count", "target", "indices"}
SAMPLE = ("data", "index", "split", "points")      # the options that pick a cloud


def _param_names(spec: MethodSpec) -> list[str]:
    import dataclasses

    return [f.name for f in dataclasses.fields(spec.params)]


def runnable(spec: MethodSpec) -> bool:
    return all(i.kind in CLI_KINDS or not i.required for i in spec.inputs)


def _input_options(p: argparse.ArgumentParser, spec: MethodSpec) -> None:
    kinds = {i.kind for i in spec.inputs}
    g = p.add_argument_group("inputs")
    taken = {f.replace("_", "-") for f in _param_names(spec)}
    if "points" in kinds or "dataset" in kinds:
        g.add_argument("--data", default="builtin", help="dataset path or 'builtin' (default builtin)")
    if "points" in kinds:
        g.add_argument("--index", type=int, default=0, help="sample index in the split (default 0)")
        g.add_argument("--split", default="test", help="split name (default test)")
        flag = "--cloud-points" if "points" in taken else "--points"
        g.add_argument(flag, dest="cloud_points", metavar="N", type=int, default=1024, help="points per cloud (default 1024)")
    for i in spec.inputs:
        if i.kind in ("points", "label", "dataset") or i.name in SAMPLE:
            continue
        if i.kind not in CLI_KINDS or i.name.replace("_", "-") in taken:
            continue
        kind = int if i.kind in ("index", "count") else str
        g.add_argument("--" + i.name.replace("_", "-"), dest=f"in_{i.name}", metavar=i.name.upper(), type=kind,
                       default=None, required=i.required, help=i.help or i.kind)


def register(subparsers) -> None:
    from engine import specs
    from engine.specs.examples import EXAMPLES

    p = subparsers.add_parser("run", help="run any method by its name (options generated from its spec)",
                              description="Run one method of the catalog; `pointlens run METHOD --help` "
                                          "lists its inputs and parameters.")
    sub = p.add_subparsers(dest="method", metavar="METHOD")
    for spec in specs.all_specs():
        if not runnable(spec):
            continue
        mp = one_line_errors(sub.add_parser(spec.key, help=spec.title, description=spec.help or spec.title))
        _input_options(mp, spec)
        if spec.needs_model:
            default = EXAMPLES[spec.key].model if spec.key in EXAMPLES else None
            mp.add_argument("--checkpoint", default=default, required=default is None and spec.model_required,
                            help=f"checkpoint path or demo:<model> (default {default})")
        add_params(mp, spec)
        if spec.needs_model:     # after the spec's own flags: a parameter keeps its name
            add_checkpoint_options(mp)
        out_flag = "--result" if _has_param(spec, "out") else "--out"   # train's --out is its checkpoint
        mp.add_argument(out_flag, dest="result_out", metavar="R.h5", default=None, help="write the result to this .h5 file")
        if not _has_param(spec, "device"):
            add_device(mp)
        add_json(mp)
        mp.set_defaults(func=run_command, spec=spec)

    def no_method(_args) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=no_method)


def _has_param(spec: MethodSpec, name: str) -> bool:
    return name in _param_names(spec)


def _target(text: str):
    return int(text) if text.lstrip("-").isdigit() else text


def _inputs(args, spec: MethodSpec) -> dict:
    out = {}
    names = spec.input_names
    if "points" in names:
        from engine.data.open import open_sample

        cloud, _ = open_sample(args.data, args.index, args.split, int(args.cloud_points))
        out["points"] = cloud.points
        if "label" in names and cloud.label is not None:
            out["label"] = int(cloud.label)
    elif any(i.kind == "dataset" for i in spec.inputs):
        out[next(i.name for i in spec.inputs if i.kind == "dataset")] = args.data
    for i in spec.inputs:
        v = getattr(args, f"in_{i.name}", None)
        if v is None:
            continue
        if i.kind == "target":
            v = _target(v)
        elif i.kind == "indices":
            v = [int(x) for x in str(v).split(",") if x.strip()]
        out[i.name] = v
    return out


def _model(args, spec: MethodSpec):
    """The job's model. A method given one cloud sees no dataset, so the class names of the
    dataset the cloud came from are applied here (when the file names none and the counts match)."""
    if not spec.needs_model:
        return None
    choice = checkpoint_choice(args)
    if choice is None or "points" not in spec.input_names:
        return choice
    from engine.catalog import resolve_model
    from engine.data.open import open_dataset

    return resolve_model(choice, args.device, spec, lambda: open_dataset(args.data).classes)


def run_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    spec: MethodSpec = args.spec
    job = Job(spec.key, _inputs(args, spec), given_params(args, spec),
              model=_model(args, spec), device=args.device)
    result = run_job(job)
    if args.result_out:
        save_result(result, args.result_out)
    # --json: every metric, nested tables too (the bias lab's accuracies are a dict per model and
    # level); the text lines: the plain values only.
    out = {"method": spec.key, **{k: v for k, v in result.metrics.items()
                                  if args.json or isinstance(v, (int, float, str, bool)) or v is None}}
    if args.result_out:
        out["out"] = str(args.result_out)
    emit(args, out)
    return 0
