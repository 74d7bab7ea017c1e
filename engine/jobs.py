"""Jobs: a method, its inputs and parameters; started as a generator, run by GUI, CLI and tests.

A method is a class registered in ``METHODS`` with a frozen ``Params`` dataclass (see
``engine.params``) and ``run(self, params, **inputs)``: a generator that yields ``Progress`` at
least every ~100 ms of work and returns a ``Result``. Cancelling is closing the generator; a method
undoes its state changes (hooks, train/eval mode, grad mode) in ``finally``.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Mapping

from .errors import ParameterError
from .params import validate
from .registry import METHODS
from .types import Progress, Result

JobGenerator = Generator[Progress, None, Result]


class Method:
    """Base class of every registered method (documentation of the contract, plus helpers)."""

    name: str = ""
    title: str = ""

    @dataclass(frozen=True)
    class Params:
        pass

    def run(self, params: Any, **inputs: Any) -> JobGenerator:  # pragma: no cover - abstract
        raise NotImplementedError


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
    """What to run. ``inputs`` hold plain values (paths, indices, numpy arrays)."""

    method: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    params: Any = None

    def start(self) -> JobGenerator:
        from . import methods  # noqa: F401  (registers every method on first use)

        cls = METHODS.get(self.method)
        method = cls()
        params = make_params(cls.Params, self.params, owner=f"method '{self.method}'")
        return method.run(params, **dict(self.inputs))


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


def run_sync(job: Job | JobGenerator, progress_bar: bool = False,
             on_progress: Callable[[Progress], None] | None = None) -> Result:
    """Run a job to completion in this thread, optionally with a terminal progress bar."""
    gen = job.start() if isinstance(job, Job) else job
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
