"""Requests to the engine thread, their handles, and the loop that drives them (Qt-free).

A ``Request`` names a piece of engine work: ``start()`` is called ON THE ENGINE THREAD and returns
either a job generator (yields ``Progress``, returns the result) or a plain value. Callbacks run on
the GUI thread (or inline with ``SyncClient``). Only numpy arrays, plain values and frozen
dataclasses may be returned: no tensors, Qt or VTK objects cross the thread line.

``execute`` is the single place that catches broadly (DESIGN rule 3): any exception becomes a
failed handle with a message the Jobs dock and an error dialog can show.
"""
from __future__ import annotations

import itertools
import threading
import time
import traceback
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from engine import EngineError, Progress

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
_ids = itertools.count(1)


@dataclass
class Request:
    """One piece of work for the engine thread.

    name: shown in the Jobs dock. target: latest-wins key (a new request with the same target
    cancels the older one and its result is dropped). interactive: jumps ahead of queued
    non-interactive work (sample loads while a long job waits). quiet: no error dialog (the Jobs
    dock and the log still show the error). listed: False keeps quick housekeeping out of the
    Jobs dock unless it fails.
    """

    name: str
    start: Callable[[], Any]
    target: str | None = None
    on_result: Callable[[Any], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_cancel: Callable[[], None] | None = None
    interactive: bool = False
    quiet: bool = False
    listed: bool = True      # shown in the Jobs dock (sample loads are not, unless they fail)


@dataclass
class JobHandle:
    """What the GUI knows about a submitted request. State changes happen on the GUI thread."""

    request: Request
    id: int = field(default_factory=lambda: next(_ids))
    state: str = QUEUED
    cancel_event: threading.Event = field(default_factory=threading.Event)
    # set = may run; cleared by pause(). A paused job waits between two progress steps and holds
    # the engine thread (jobs submitted meanwhile wait behind it); cancel also releases it.
    run_event: threading.Event = field(default_factory=lambda: _set(threading.Event()))
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    progress: Progress | None = None
    error: str | None = None
    details: str | None = None     # traceback for the log
    result: Any = None

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def elapsed(self, now: float | None = None) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now or time.monotonic()) - self.started

    def cancel(self) -> None:
        """Ask the work to stop (thread-safe). The handle turns CANCELLED when the engine lets go."""
        self.cancel_event.set()
        self.run_event.set()

    @property
    def paused(self) -> bool:
        return not self.run_event.is_set()

    def pause(self) -> None:
        """Hold the work at its next progress step (thread-safe); ``resume`` lets it go on."""
        if not self.cancel_event.is_set():
            self.run_event.clear()

    def resume(self) -> None:
        self.run_event.set()


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event


def error_text(exc: BaseException) -> str:
    """The message a user sees: an EngineError's own text, otherwise the type and message."""
    if isinstance(exc, EngineError):
        return str(exc)
    msg = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {msg}"


def execute(handle: JobHandle, on_progress: Callable[[Progress], None] | None = None) -> tuple[str, Any]:
    """Run a request to the end in this thread. Returns (state, value-or-error-text).

    Cancel is checked before start and between progress steps; a cancelled generator is closed
    so the method undoes its state changes in ``finally``.
    """
    cancel = handle.cancel_event
    if cancel.is_set():
        return CANCELLED, None
    gen = None
    try:
        out = handle.request.start()
        if not isinstance(out, types.GeneratorType):
            return (CANCELLED, None) if cancel.is_set() else (DONE, out)
        gen = out
        while True:
            if cancel.is_set():
                gen.close()
                return CANCELLED, None
            try:
                step = next(gen)
            except StopIteration as stop:
                return (CANCELLED, None) if cancel.is_set() else (DONE, stop.value)
            if on_progress is not None and isinstance(step, Progress):
                on_progress(step)
            handle.run_event.wait()            # paused: wait here (cancel sets it too)
    except BaseException as exc:  # noqa: BLE001 - the one broad catch at the thread boundary
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        handle.details = traceback.format_exc()
        return FAILED, error_text(exc)
    finally:
        if gen is not None:
            gen.close()


class SyncClient:
    """Runs each request inline on submit: for unit tests of Session and for scripts.

    Same surface as ``engine_client.EngineClient``: ``submit``, ``cancel_target``, ``jobs``.
    """

    def __init__(self) -> None:
        self.jobs: list[JobHandle] = []

    def submit(self, request: Request) -> JobHandle:
        handle = JobHandle(request)
        self.jobs.append(handle)
        handle.state, handle.started = RUNNING, time.monotonic()

        def progress(p: Progress) -> None:
            handle.progress = p
            if request.on_progress:
                request.on_progress(p)

        state, value = execute(handle, progress)
        finish(handle, state, value)
        return handle

    def cancel_target(self, target: str) -> None:  # nothing is ever pending here
        pass


def finish(handle: JobHandle, state: str, value: Any) -> None:
    """Record the outcome on the handle and call the request's callback (GUI thread)."""
    handle.state, handle.finished = state, time.monotonic()
    req = handle.request
    if state == DONE:
        handle.result = value
        if req.on_result:
            req.on_result(value)
    elif state == FAILED:
        handle.error = value
        if req.on_error:
            req.on_error(value)
    elif state == CANCELLED and req.on_cancel:
        req.on_cancel()
