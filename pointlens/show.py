"""``show(obj)``: open the PointLens window on a dataset, a checkpoint or a result, in its own
process (a notebook's kernel keeps running; Qt needs its own main thread).

``show_command`` builds the command line, ``show`` starts it. A result that is not yet a file
is saved to a temporary .h5 first (the GUI opens files); a loaded checkpoint opens by its path.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any

LAUNCH = ("-c", "import sys; from viewer.launch import main; sys.exit(main())")


def _paths(obj: Any) -> list[str]:
    from pointlens.dataset import Dataset
    from pointlens.result import Result

    if isinstance(obj, (list, tuple)):
        return [p for o in obj for p in _paths(o)]
    if isinstance(obj, Result):
        fd, path = tempfile.mkstemp(prefix=f"pointlens-{obj.kind}-", suffix=".h5")
        os.close(fd)
        return [obj.save(path)]
    if isinstance(obj, Dataset):
        return [obj.path]
    if hasattr(obj, "model") and hasattr(obj, "meta"):          # a loaded checkpoint
        if not getattr(obj, "path", ""):
            from engine import ParameterError

            raise ParameterError("this checkpoint has no file to open; save it first, or pass its path.")
        return [str(obj.path)]
    text = os.fspath(obj)
    named = text == "builtin" or text.startswith(("demo:", "builtin:"))
    return [text if named else os.path.abspath(os.path.expanduser(text))]


def show_command(obj: Any = None) -> list[str]:
    """The command line that opens the GUI on ``obj`` (a path, 'builtin', 'demo:<model>', a
    Dataset, a loaded checkpoint, a Result, or a list of them: one dataset or result plus one
    checkpoint). It is `pointlens PATH...` run by this Python."""
    return [sys.executable, *LAUNCH, *(_paths(obj) if obj is not None else [])]


def show(obj: Any = None) -> subprocess.Popen:
    """Open the GUI on ``obj`` in a new process and return it (``.wait()`` to block)."""
    return subprocess.Popen(show_command(obj))
