"""Argument-parsing helpers for the train and eval commands.

``one_line_errors(parser)``: a usage error is one line on stderr and exit status 2 (argparse
would print the whole usage block first). ``lazy_options(parser, adder)``: options that need
the model registry (hence torch) are added only when this sub-command is actually parsed, so
``pointlens data info`` does not pay for importing torch.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable


class _CommandParser(argparse.ArgumentParser):
    _lazy: Callable[[argparse.ArgumentParser], None] | None = None
    _lazy_done = False

    def error(self, message: str):  # type: ignore[override]
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._add_lazy()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._add_lazy()
        return super().format_help()

    def _add_lazy(self) -> None:
        if self._lazy is not None and not self._lazy_done:
            self._lazy_done = True
            self._lazy(self)


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.__class__ = _CommandParser
    return parser


def lazy_options(parser: argparse.ArgumentParser, adder: Callable[[argparse.ArgumentParser], None]) -> None:
    one_line_errors(parser)
    parser._lazy = adder  # type: ignore[attr-defined]


def parse_bool(text: str) -> bool:
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"'{text}' is not true or false")


def _whole(text: str, lo: int, words: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if v < lo:
        raise argparse.ArgumentTypeError(f"{v} must be {words}")
    return v


def positive_int(text: str) -> int:
    return _whole(text, 1, "at least 1")


def nonneg_int(text: str) -> int:
    return _whole(text, 0, "0 or more")
