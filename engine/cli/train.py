"""`pointlens train --model KEY --data PATH|builtin --epochs N --out CKPT [...]`.

Runs the "train" method (the same generator the GUI drives) with a progress bar on a terminal
and prints the final metrics and the checkpoint path (one JSON object with --json). Every
registered model's ``cli_options`` and every mix augmentation's ``cli_options`` become flags
(``--alpha``, ``--parts`` ...); a flag that does not belong to the chosen model or mix is an
error naming who owns it. Under ``torchrun --nproc_per_node=N`` only rank 0 prints and writes.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

from engine.cli.common import add_device, add_json, add_model_file, emit, register_model_file, run_job
from engine.cli.parsing import lazy_options, parse_bool
from engine.cli.spec_options import add_params, checked_params
from engine.core.errors import ParameterError
from engine.specs.training import TRAIN

STATIC_DESTS: set[str] = set()
_OWNERS: dict[str, dict[str, list[str]]] = {"model": {}, "mix": {}}


# Params the command sets otherwise: --augment (mix), the registry flags (mix_options,
# model_options), --out (required) and --resume (a switch).
_SKIP = ("mix", "mix_options", "model_options", "out", "resume")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a model on a dataset",
        description="Train a registered model. Model- and mix-specific flags are listed at the end.")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    add_device(p)
    p.add_argument("--augment", default="none", help="mix augmentation (e.g. sagemix) or none")
    p.add_argument("--resume", action="store_true", help="continue the run saved next to --out")
    add_json(p)
    add_params(p, TRAIN, skip=_SKIP)     # --model, --epochs, --lr, --batch-size, ... (ranges in the spec)
    add_model_file(p)     # train your own architecture: --model-file my_net.py:MyNet
    p.add_argument("--model-options", dest="model_options", metavar="K=V,...", default=None,
                   help="constructor settings of the model to train, for models without their own "
                        "flags (e.g. a --model-file class): hidden=64,num_classes=10")
    STATIC_DESTS.update(a.dest for a in p._actions)
    lazy_options(p, _add_registry_options)
    p.set_defaults(func=train_command, spec_parser=p)


def _add_registry_options(p: argparse.ArgumentParser) -> None:
    """One flag per option name declared by any model or mix augmentation."""
    from engine.core.registry import AUGMENTATIONS, MODELS
    from engine.training.train import load_registries

    load_registries()
    group = p.add_argument_group("model and mix options (apply only to the model / mix that declares them)")
    declared: dict[str, Any] = {}
    for kind, registry in (("model", MODELS), ("mix", AUGMENTATIONS)):
        for key in registry.names():
            for name, spec in (getattr(registry.get(key), "cli_options", None) or {}).items():
                dest = name.replace("-", "_")
                if dest in STATIC_DESTS:
                    continue
                _OWNERS[kind].setdefault(dest, []).append(key)
                if dest not in declared:
                    declared[dest] = (name, spec, key)
    for dest, (name, spec, key) in sorted(declared.items()):
        typ, default, text = (tuple(spec) + (None, None, ""))[:3]
        conv = parse_bool if typ is bool else (typ if callable(typ) else str)
        owners = sorted(set(_OWNERS["model"].get(dest, []) + _OWNERS["mix"].get(dest, [])))
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"opt_{dest}", type=conv, default=None,
                           metavar=getattr(typ, "__name__", "VALUE").upper(),
                           help=f"{text} [{', '.join(owners)}; default {default}]")


def _collect_options(args) -> tuple[dict, dict]:
    """Split the given registry flags into model options and mix options; reject strays."""
    from engine.core.registry import AUGMENTATIONS, MODELS

    model_cls = MODELS.get(_model(args))
    model_opts = getattr(model_cls, "cli_options", None) or {}
    mix_opts = {}
    if args.augment not in ("", "none"):
        mix_opts = getattr(AUGMENTATIONS.get(args.augment), "cli_options", None) or {}
    to_model: dict[str, Any] = {}
    to_mix: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith("opt_") or value is None:
            continue
        dest = key[4:]
        names = {n.replace("-", "_"): n for n in model_opts}
        mnames = {n.replace("-", "_"): n for n in mix_opts}
        if dest in names:
            to_model[names[dest]] = _convert(value, model_opts[names[dest]][0], dest)
        elif dest in mnames:
            to_mix[mnames[dest]] = _convert(value, mix_opts[mnames[dest]][0], dest)
        else:
            owners = sorted(set(_OWNERS["model"].get(dest, []) + _OWNERS["mix"].get(dest, [])))
            raise ParameterError(f"--{dest.replace('_', '-')} does not apply to model '{_model(args)}'"
                                 + (f" or mix '{args.augment}'" if args.augment not in ("", "none") else "")
                                 + f"; it is an option of {', '.join(owners)}.",
                                 hint="Drop the flag or choose a model that has it.")
    return to_model, to_mix


def _convert(value: Any, typ: Any, dest: str) -> Any:
    if typ is None or not callable(typ):
        return value
    if isinstance(typ, type) and type(value) is typ:
        return value
    try:
        return parse_bool(value) if typ is bool else typ(value)
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        raise ParameterError(f"--{dest.replace('_', '-')} = {value!r} is not a {getattr(typ, '__name__', typ)}.") from None


def command_line(args) -> str:
    """The command as a user would type it (recorded in the checkpoint's metadata)."""
    parts = ["pointlens", "train"]
    for key, value in vars(args).items():
        if key in ("func", "command", "debug", "spec_parser") or value is None or value is False:
            continue
        flag = "--" + (key[4:] if key.startswith("opt_") else key).replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def train_command(args) -> int:
    import json

    from engine.core.jobs import Job
    from engine.perf import tune_allocator

    _own_model(args)
    model_opts, mix_opts = _collect_options(args)
    model_opts.update(_typed_model_options(args))
    params = checked_params(args, TRAIN, skip=_SKIP)
    allocator = tune_allocator()
    params.update(mix=args.augment, out=args.out, resume=args.resume,
                  mix_options=json.dumps(mix_opts) if mix_opts else "",
                  model_options=json.dumps(model_opts) if model_opts else "")
    rank = int(os.environ.get("RANK", "0") or 0)
    job = Job("train", {"data": args.data, "command": command_line(args)}, params, device=args.device)
    if rank == 0:
        result = run_job(job)
    else:
        from engine.catalog import run

        result = run(job)
    if rank != 0:
        return 0
    m = dict(result.metrics)
    out = {"checkpoint": m.get("checkpoint"), "model": _model(args), "epochs": m.get("epoch"),
           "test_accuracy": m.get("test_accuracy"), "train_accuracy": m.get("train_accuracy"),
           "loss": m.get("loss"), "test_loss": m.get("test_loss"), "best_score": m.get("best_score"),
           "seconds": m.get("seconds"), "samples_per_second": m.get("samples_per_second"),
           "world_size": m.get("world_size"), "allocator": allocator, "init": m.get("init") or None,
           "metrics": m}
    lines = [f"checkpoint:    {out['checkpoint'] or '(none written)'}",
             f"epochs:        {out['epochs']}", f"train loss:    {_fmt(out['loss'])}"]
    if m.get("task") == "classification":
        lines += [f"train accuracy: {_fmt(out['train_accuracy'])}",
                  f"test accuracy:  {_fmt(out['test_accuracy'])}"]
    else:
        lines.append(f"test loss:     {_fmt(out['test_loss'])}")
    if m.get("assignment_gap_bound") is not None:
        lines.append(f"assignment:    {m['assignment_solver']}, total cost within "
                     f"{100 * m['assignment_gap_bound']:.2f} % of the optimum (certified)")
    lines.append(f"time:          {m.get('seconds', 0):.1f} s ({_fmt(out['samples_per_second'])} clouds/s)")
    from engine.ops.fallbacks import report_fallbacks; report_fallbacks(out, lines)  # noqa: E702 - slow kernels
    emit(args, out, "\n".join(lines))
    sys.stdout.flush()
    return 0


def _typed_model_options(args) -> dict:
    from engine.models.checkpoint_options import parse_model_options

    return parse_model_options(getattr(args, "model_options", None))


def _own_model(args) -> None:
    """Register --model-file's class (running its code) and train it unless --model names another."""
    from engine.models.user_models import load_entry_points

    load_entry_points()     # installed packages' models can be trained by name
    key = register_model_file(args, _typed_model_options(args))
    if key is not None and args.model is None:
        args.model = key


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _model(args) -> str:
    return args.model or TRAIN.params().model
