"""Helpers shared by the CLI commands: --json output, progress bars, resolving names."""
from __future__ import annotations

import json
import sys
from typing import Any

from engine.catalog import start
from engine.core.jobs import Job, run_sync
from engine.core.method import JobGenerator
from engine.results import _jsonable
from engine.core.types import Result


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_device(parser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")


def emit(args, obj: dict, text: str | None = None) -> None:
    """Print ``obj`` as one JSON line with --json, else the human text (or a key: value list)."""
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(obj)))
        return
    if text is None:
        text = "\n".join(f"{k}: {v}" for k, v in _jsonable(obj).items())
    print(text)


def run_job(job: Job | JobGenerator) -> Result:
    """Run with a progress bar on an interactive terminal (stderr), silently otherwise."""
    gen = start(job) if isinstance(job, Job) else job
    return run_sync(gen, progress_bar=sys.stderr.isatty())


def parse_kv(items: list[str] | None) -> dict[str, Any]:
    out = {}
    for item in items or []:
        k, _, v = item.partition("=")
        out[k.strip()] = v.strip()
    return out


def given_options(args, names: tuple[str, ...], params: dict | None = None) -> dict:
    """``params`` plus every option in ``names`` that was given on the command line (not None)."""
    out = dict(params or {})
    out.update({n: getattr(args, n) for n in names if getattr(args, n) is not None})
    return out


# --- what the user says about a checkpoint: model, options, classes, their own architecture -------

MODEL_FILE_HELP = ("your own architecture as PATH.py:CLASS, registered as model file:STEM.CLASS. "
                   "This IMPORTS PATH.py AND RUNS ITS CODE, by your explicit choice: name only files "
                   "you trust (a checkpoint alone never runs code). A class that is not a PointModel "
                   "must map (B, N, 3) clouds to (B, C) logits.")


def _free(parser, flag: str) -> bool:
    return flag not in parser._option_string_actions


def add_model_file(parser, group=None) -> None:
    """``--model-file PATH.py:CLASS`` (dest ``model_file``)."""
    if _free(parser, "--model-file"):
        (group or parser).add_argument("--model-file", dest="model_file", metavar="PATH.py:CLASS",
                                       default=None, help=MODEL_FILE_HELP)


def add_checkpoint_options(parser) -> None:
    """``--model``, ``--model-options``, ``--classes`` and ``--model-file`` for a command that
    opens a checkpoint; each left out where the command already has the flag."""
    g = parser.add_argument_group("naming the checkpoint's model, options and classes "
                                  "(for files PointLens cannot read them from)")
    if _free(parser, "--model"):
        g.add_argument("--model", dest="ckpt_model", metavar="NAME", default=None,
                       help="the registered model the checkpoint is for (e.g. pointnet, dgcnn, pointnet2-ssg, "
                            "or the key a --model-file registers), when detection cannot tell")
    if _free(parser, "--model-options"):
        g.add_argument("--model-options", dest="ckpt_model_options", metavar="K=V,...", default=None,
                       help="constructor settings of the model, over the detected or saved ones (e.g. k=20,emb_dims=512)")
    if _free(parser, "--classes"):
        g.add_argument("--classes", dest="ckpt_classes", metavar="FILE|a,b,c", default=None,
                       help="class names in output order: a text file (one per line) or a comma list; "
                            "default: the file's names, else the dataset's when the counts match")
    add_model_file(parser, g)


def register_model_file(args, options: dict | None = None) -> str | None:
    """Import and register ``--model-file`` if given (runs its code); its registry key, else None."""
    text = getattr(args, "model_file", None)
    if not text:
        return None
    from engine.models.user_models import load_model_file

    return load_model_file(text, options)


def checkpoint_choice(args, spec: str | None = None):
    """The checkpoint as the job should get it: the plain spec when nothing was said about it,
    else a ``CheckpointChoice`` with the model, options and classes given."""
    from engine.models.checkpoint_choice import CheckpointChoice
    from engine.models.checkpoint_options import parse_classes, parse_model_options

    spec = getattr(args, "checkpoint", None) if spec is None else spec
    options = parse_model_options(getattr(args, "ckpt_model_options", None))
    file_key = register_model_file(args, options)
    model = getattr(args, "ckpt_model", None) or file_key
    text = getattr(args, "ckpt_classes", None)
    classes = parse_classes(text) if text else None
    if not spec or (model is None and not options and classes is None):
        return spec
    return CheckpointChoice.make(spec, model, options, classes)
