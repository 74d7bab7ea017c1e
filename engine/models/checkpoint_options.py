"""What a user may say about a checkpoint that the file itself does not: which model it is for,
that model's constructor options, and the names of its classes.

Detection from tensor names cannot tell every foreign file apart, and many public files carry no
class names. ``CheckpointChoice`` bundles the user's answers with the checkpoint spec in one
frozen, hashable value, so a GUI job or a CLI command carries the choice to ``resolve_model``
exactly as it would carry a path.
"""
from __future__ import annotations

import inspect
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.core.errors import CheckpointError, ParameterError

# One line per built-in classifier, for the model picker (the classes' docstrings are written
# for developers, not for someone choosing a model for a file).
DESCRIPTIONS = {
    "pointnet": "PointNet classifier (shared per-point MLPs, max pooling, two T-Nets)",
    "dgcnn": "DGCNN classifier (EdgeConv over k-nearest-neighbour graphs)",
    "pointnet2-ssg": "PointNet++ classifier, single-scale grouping",
    "pointnet2-msg": "PointNet++ classifier, multi-scale grouping",
    "pointmask": "PointNet behind a variational point-masking layer (PointMask)",
    "pointmap": "PointNet behind a per-point translation layer (PointMap)",
    "randmask": "PointNet trained with random point dropping (RandMask baseline)",
    "serp-transformer-cls": "SeRP transformer encoder fine-tuned as a classifier",
}

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_MAX_CLASS_FILE = 4 << 20     # a class-name list is a few kilobytes; refuse to slurp a dataset


def parse_value(text: Any) -> Any:
    """A constructor option as the user typed it: int, float or bool where it looks like one."""
    if not isinstance(text, str):
        return text
    s = text.strip()
    if _INT.match(s):
        return int(s)
    if _FLOAT.match(s):
        return float(s)
    if s.lower() in ("true", "yes", "on"):
        return True
    if s.lower() in ("false", "no", "off"):
        return False
    return s


def parse_model_options(text: str | None) -> dict:
    """``"k=20,emb_dims=512"`` -> ``{"k": 20, "emb_dims": 512}`` (values typed by ``parse_value``)."""
    out: dict[str, Any] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, eq, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or not name or not name.isidentifier():
            raise ParameterError(f"model options: '{item.strip()}' is not NAME=VALUE.",
                                 hint="Write the options as k=20,emb_dims=512.")
        if name in out:
            raise ParameterError(f"model options: '{name}' is given twice.", hint="Give each option once.")
        out[name] = parse_value(value)
    return out


def typed_options(options: dict | None) -> dict:
    """A dict of options with string values typed as ``parse_value`` does (GUI forms give text)."""
    return {str(k).replace("-", "_"): parse_value(v) for k, v in (options or {}).items()}


def parse_classes(text: str | os.PathLike) -> list[str]:
    """Class names from a text file (one per line; blank lines and ``#`` lines ignored) or from a
    comma-separated list."""
    raw = str(text).strip()
    path = Path(raw).expanduser()
    if raw and path.is_file():
        names = _read_class_file(path)
        where = str(path)
    else:
        looks_like_file = "," not in raw and (os.sep in raw or "/" in raw or path.suffix.lower() in
                                             (".txt", ".names", ".csv", ".lst"))
        if looks_like_file:
            raise ParameterError(f"class-name file '{raw}' does not exist.",
                                 hint="Give a text file with one name per line, or the names as a,b,c.")
        names = [n.strip() for n in raw.split(",")]
        if any(not n for n in names) and any(names):
            pos = names.index("") + 1
            raise ParameterError(f"class names '{raw}': name {pos} is empty.", hint="Write the names as a,b,c.")
        names = [n for n in names if n]
        where = "the class names"
    if not names:
        raise ParameterError(f"{where}: no class names given.",
                             hint="Give one name per line in a file, or the names as a,b,c.")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ParameterError(f"{where}: class name '{n}' appears twice.", hint="Give each class once.")
        seen.add(n)
    return names


def _read_class_file(path: Path) -> list[str]:
    from engine.fsguard import check_input

    check_input(path, "class-name file", error=ParameterError)
    if path.stat().st_size > _MAX_CLASS_FILE:
        raise ParameterError(f"{path}: too large for a class-name list ({path.stat().st_size} bytes).",
                             hint="Give a text file with one class name per line.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: not a UTF-8 text file.", hint="Save the class names as plain text.") from None
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


def constructor_options(cls: type) -> list[str] | None:
    """The settings a model's constructor names; None when it names none and takes ``**kwargs``.
    (Built-in models also take ``**extra`` so that newer metadata still loads; a setting the user
    types must still be one the model names, or a typo would pass silently.)"""
    if hasattr(cls, "constructor_settings"):        # a wrapped class of the user's: its own list
        return cls.constructor_settings
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return None
    named = [n for n, p in params.items() if n != "self" and p.kind in
             (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    if not named and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return named


def check_options(key: str, cls: type, options: dict, where: str) -> None:
    """Refuse an option the model's constructor does not take, naming those it does."""
    known = constructor_options(cls)
    bad = [] if known is None else [n for n in options if n not in known]
    if bad:
        raise CheckpointError(f"{where}: model '{key}' has no option {', '.join(repr(b) for b in bad)}; "
                              f"its options are {', '.join(known) or '(none)'}.",
                              hint="Correct the model options (k=v,...).")


def named_classes(loaded: Any, names: list[str], source: str) -> Any:
    """A copy of ``loaded`` whose classes are ``names`` (the shared cached one is left alone)."""
    meta = dict(loaded.meta, classes=list(names), classes_from=source)
    return replace(loaded, meta=meta, report=list(loaded.report) + [f"class names from {source}"])


DATASET_SOURCE = "the open dataset (the checkpoint names none)"


def with_dataset_classes(loaded: Any, names) -> Any:
    """``loaded`` with the dataset's class ``names`` when the file named none and its head has as
    many outputs; else ``loaded`` itself. The one rule for jobs, the GUI and the robustness rows."""
    if loaded.meta.get("classes_from") != "generic" or not names or len(names) != len(loaded.classes):
        return loaded
    return named_classes(loaded, [str(n) for n in names], DATASET_SOURCE)
