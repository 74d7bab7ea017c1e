"""CLI options generated from a method spec: one ``--option`` per parameter, with the spec's type,
range, unit, choices and default in its help, so a range lives only in the spec."""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Iterable

from engine.cli.parsing import parse_bool
from engine.core.errors import ParameterError
from engine.core.jobs import make_params
from engine.core.params import describe
from engine.core.spec import MethodSpec


def _range(d: dict) -> str:
    lo, hi = d.get("lo"), d.get("hi")
    if lo is None and hi is None:
        return ""
    left = "(" if d.get("lo_open") else "["
    right = ")" if d.get("hi_open") else "]"
    text = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    return f"; range {text}" + (", log scale" if d.get("scale") == "log" else "")


def option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def add_params(parser: argparse.ArgumentParser, spec: MethodSpec, skip: Iterable[str] = ()) -> None:
    """Add one option per parameter of ``spec`` (default None: only given values reach the job)."""
    skip = set(skip)
    group = parser.add_argument_group(f"{spec.title} parameters")
    for d in describe(spec.params):
        if d["name"] in skip:
            continue
        default = d["default"]
        kind = parse_bool if isinstance(default, bool) else type(default)
        unit = f" {d['unit']}" if d.get("unit") else ""
        help_text = (d.get("help") or d["name"]).replace("%", "%%")
        help_text += f" (default {default!r}{unit}{_range(d)})"
        kw: dict[str, Any] = {"type": kind, "default": None, "help": help_text, "dest": d["name"]}
        if d.get("choices"):
            kw["choices"] = list(d["choices"])
        group.add_argument(option_name(d["name"]), metavar=d["name"].upper() if not d.get("choices") else None, **kw)


def given_params(args: argparse.Namespace, spec: MethodSpec, skip: Iterable[str] = ()) -> dict:
    """The parameters given on the command line, by field name."""
    skip = set(skip)
    out = {}
    for f in dataclasses.fields(spec.params):
        if f.name in skip:
            continue
        v = getattr(args, f.name, None)
        if v is not None:
            out[f.name] = v
    return out


def checked_params(args: argparse.Namespace, spec: MethodSpec, skip=()) -> dict:
    """The spec's parameters given on the command line, each checked against its range and
    choices now: a bad value is a usage error naming its option (one line, exit status 2)."""
    given = given_params(args, spec, skip)
    for name, value in given.items():
        try:
            make_params(spec.params, {name: value})
        except ParameterError as e:
            parser = getattr(args, "spec_parser", None)
            text = f"argument {option_name(name)}: {e.message}"
            if parser is None:
                raise ParameterError(text, hint=e.hint) from None
            parser.error(text)
    return given
