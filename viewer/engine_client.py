"""The engine thread: ONE long-lived QThread that runs one request at a time (DESIGN rule 2).

- Progress reaching the GUI is coalesced and throttled: the worker keeps only the newest
  Progress per job and raises one signal; the GUI delivers at most ``progress_hz`` per second.
- Cancel is a ``threading.Event`` set from the GUI thread; the worker checks it between steps
  (methods yield at least every ~100 ms, so a job stops within ~200 ms).
- Latest-wins: a request with a ``target`` cancels queued or running requests with the same
  target; a result that arrives for a superseded request is dropped.
- Errors come back as data: the handle turns FAILED with a message; ``job_failed`` fires so the
  window logs it and shows a dialog. A ``quiet`` request (also what ``MethodPanel.run_method``
  makes of a job given ``on_error``: the panel tells the user itself) gets no ``job_failed``;
  its failure is logged here, and the Jobs dock shows it like any other.
- ``shutdown()`` cancels everything, stops the loop and joins the thread.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from engine import Progress

from .work import CANCELLED, FAILED, QUEUED, RUNNING, JobHandle, Request, execute, finish

log = logging.getLogger("pointlens")


class _Worker(QThread):
    def __init__(self, client: "EngineClient"):
        super().__init__()
        self.client = client
        self.setObjectName("pointlens-engine")

    def run(self) -> None:  # engine thread
        threading.current_thread().name = "pointlens-engine"   # for logs and tracebacks
        c = self.client
        while True:
            with c._cv:
                while not c._queue and not c._stopping:
                    c._cv.wait()
                if c._stopping:
                    return
                handle = c._queue.pop(0)
                c._current = handle
            handle.started = time.monotonic()
            c._sig_started.emit(handle)
            state, value = execute(handle, lambda p, h=handle: c._post_progress(h, p))
            with c._cv:
                c._current = None
            c._sig_finished.emit(handle, state, value)


class EngineClient(QObject):
    """Submit ``Request``s; get ``JobHandle``s. All public methods are called on the GUI thread."""

    job_added = Signal(object)     # JobHandle
    job_changed = Signal(object)   # JobHandle: state or progress changed
    job_failed = Signal(object)    # JobHandle that failed and is not quiet

    _sig_started = Signal(object)
    _sig_progress = Signal(object)
    _sig_finished = Signal(object, str, object)

    def __init__(self, parent: QObject | None = None, progress_hz: float = 30.0):
        super().__init__(parent)
        self._cv = threading.Condition()
        self._queue: list[JobHandle] = []
        self._current: JobHandle | None = None
        self._stopping = False
        self._latest: dict[int, Progress] = {}       # newest undelivered progress per job id
        self._signalled: set[int] = set()            # job ids with a progress signal in flight
        self._by_target: dict[str, JobHandle] = {}   # the newest request per latest-wins target
        self._min_interval = 1.0 / progress_hz
        self._last_delivery = 0.0
        self._deferred = False
        self.jobs: list[JobHandle] = []
        self._sig_started.connect(self._on_started)
        self._sig_progress.connect(self._on_progress)
        self._sig_finished.connect(self._on_finished)
        self._thread = _Worker(self)
        self._thread.start()

    # ---- GUI-thread API -------------------------------------------------------------------
    def submit(self, request: Request) -> JobHandle:
        handle = JobHandle(request)
        if request.target is not None:
            self.cancel_target(request.target)
            self._by_target[request.target] = handle
        with self._cv:
            if self._stopping:
                handle.state = CANCELLED
                return handle
            if request.interactive:
                pos = next((i for i, h in enumerate(self._queue) if not h.request.interactive), len(self._queue))
                self._queue.insert(pos, handle)
            else:
                self._queue.append(handle)
            self._cv.notify_all()
        self.jobs.append(handle)
        # Keep the list bounded: drop old finished jobs beyond 200.
        if len(self.jobs) > 200:
            self.jobs = [h for h in self.jobs if h.active] + [h for h in self.jobs if not h.active][-150:]
        self.job_added.emit(handle)
        return handle

    def cancel(self, handle: JobHandle) -> None:
        """Cancel a job: a queued one at once, a running one when it reaches its next step."""
        handle.cancel()
        with self._cv:
            queued = handle in self._queue
            if queued:
                self._queue.remove(handle)
        if queued:
            finish(handle, CANCELLED, None)
            self.job_changed.emit(handle)

    def cancel_target(self, target: str) -> None:
        old = self._by_target.get(target)
        if old is not None and old.active:
            self.cancel(old)

    def cancel_all(self) -> None:
        with self._cv:
            pending = list(self._queue) + ([self._current] if self._current else [])
        for h in pending:
            self.cancel(h)

    @property
    def busy(self) -> bool:
        with self._cv:
            return self._current is not None or bool(self._queue)

    def running(self) -> JobHandle | None:
        with self._cv:
            return self._current

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel all work, stop the loop and join the thread. True if the thread ended."""
        with self._cv:
            self._stopping = True
            queued, self._queue = list(self._queue), []
            if self._current is not None:
                self._current.cancel()
            self._cv.notify_all()
        for h in queued:
            h.cancel()
            h.state = CANCELLED
        return bool(self._thread.wait(int(timeout * 1000)))

    def thread_running(self) -> bool:
        return self._thread.isRunning()

    # ---- worker -> GUI ---------------------------------------------------------------------
    def _post_progress(self, handle: JobHandle, progress: Progress) -> None:  # engine thread
        with self._cv:
            self._latest[handle.id] = progress
            if handle.id in self._signalled:
                return
            self._signalled.add(handle.id)
        self._sig_progress.emit(handle)

    def _on_started(self, handle: JobHandle) -> None:
        if handle.state == QUEUED:
            handle.state = RUNNING
            self.job_changed.emit(handle)

    def _on_progress(self, handle: JobHandle) -> None:
        now = time.monotonic()
        wait = self._min_interval - (now - self._last_delivery)
        if wait > 0:
            if not self._deferred:
                self._deferred = True
                QTimer.singleShot(max(1, int(wait * 1000)), lambda h=handle: self._deliver_deferred(h))
            return
        self._deliver(handle)

    def _deliver_deferred(self, handle: JobHandle) -> None:
        self._deferred = False
        self._deliver(handle)

    def _deliver(self, handle: JobHandle) -> None:
        with self._cv:
            progress = self._latest.pop(handle.id, None)
            self._signalled.discard(handle.id)
        if progress is None or handle.state != RUNNING or handle.cancel_event.is_set():
            return
        self._last_delivery = time.monotonic()
        handle.progress = progress
        if handle.request.on_progress:
            handle.request.on_progress(progress)
        self.job_changed.emit(handle)

    def _on_finished(self, handle: JobHandle, state: str, value: Any) -> None:
        with self._cv:
            self._latest.pop(handle.id, None)
            self._signalled.discard(handle.id)
        target = handle.request.target
        stale = target is not None and self._by_target.get(target) is not handle
        if stale or handle.cancel_event.is_set():
            state, value = CANCELLED, None   # superseded or cancelled: drop the result
        if target is not None and self._by_target.get(target) is handle:
            del self._by_target[target]
        finish(handle, state, value)
        self.job_changed.emit(handle)
        if state == FAILED:
            log.error("job '%s' failed: %s", handle.name, handle.error)
            if handle.details:
                log.info("details:\n%s", handle.details.rstrip())
            if not handle.request.quiet:
                self.job_failed.emit(handle)       # the window shows a dialog
