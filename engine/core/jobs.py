"""Jobs and THE generator driver, shared by the GUI's engine thread, the CLI and the tests.

A ``Job`` names a method (its spec key), its declared inputs, its parameters, the model (a
checkpoint spec or a loaded model) and the device. ``engine.catalog.start(job)`` checks it against
the spec and returns the implementation's generator; ``drive`` and ``run_sync`` iterate it.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from engine.core.errors import ParameterError
from engine.core.params import validate
from engine.core.method import JobGenerator
from engine.core.types import Progress, Result


def make_params(params_cls: type, values: Mapping[str, Any] | Any | None, owner: str = "") -> Any:
    """Build and validate a Params instance from a dict (unknown names are an error) or pass one."""
    if values is None:
        values = {}
    if dataclasses.is_dataclass(values) and not isinstance(values, type):
        return validate(values, owner)
    known = {f.name: f for f in dataclasses.fields(params_cls)}
    unknown = [k for k in values if k not in known]
    if unknown:
        raise ParameterError(
            f"{owner} has no parameter {', '.join(repr(u) for u in unknown)}; "
            f"known: {', '.join(known)}.")
    coerced = {}
    for k, v in values.items():
        default = known[k].default
        try:
            if isinstance(default, bool) and not isinstance(v, bool):
                v = str(v).lower() in ("1", "true", "yes", "on")
            elif isinstance(default, float) and not isinstance(v, float):
                v = float(v)
            elif isinstance(default, int) and not isinstance(default, bool) and not isinstance(v, int):
                v = int(v)
        except (TypeError, ValueError):
            raise ParameterError(f"{owner} parameter '{k}' = {v!r} is not a "
                                 f"{type(default).__name__}.") from None
        coerced[k] = v
    return validate(params_cls(**coerced), owner)


@dataclass(frozen=True)
class Job:
    """What to run. ``inputs`` hold plain values (paths, indices, numpy arrays); ``model`` is a
    checkpoint spec (path or ``demo:NAME``), a loaded checkpoint or module, or None."""

    method: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    params: Any = None
    model: Any = None
    device: str = "cpu"


def drive(gen: JobGenerator, on_progress: Callable[[Progress], None] | None = None,
          cancel: threading.Event | None = None) -> Result | None:
    """Iterate a job generator to its Result; return None if ``cancel`` was set (gen closed)."""
    try:
        while True:
            if cancel is not None and cancel.is_set():
                gen.close()
                return None
            try:
                progress = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_progress is not None:
                on_progress(progress)
    finally:
        gen.close()


def run_sync(gen: JobGenerator, progress_bar: bool = False,
             on_progress: Callable[[Progress], None] | None = None) -> Result:
    """Run a started job to completion in this thread, optionally with a terminal progress bar."""
    if not progress_bar:
        result = drive(gen, on_progress)
        assert result is not None
        return result
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", leave=False, dynamic_ncols=True)
    last = [0.0]

    def show(p: Progress) -> None:
        pct = 100.0 * p.fraction
        bar.update(max(0.0, pct - last[0]))
        last[0] = max(last[0], pct)
        if p.message:
            bar.set_description_str(p.message[:60])
        if on_progress is not None:
            on_progress(p)

    try:
        result = drive(gen, show)
    finally:
        bar.close()
    assert result is not None
    return result


class Ticker:
    """Says when it is time to yield a progress again (every ``interval`` seconds)."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self._last = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False
