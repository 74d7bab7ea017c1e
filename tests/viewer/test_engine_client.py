"""The engine thread: throttled progress, cancel within 200 ms, latest-wins, errors as data, join."""
from __future__ import annotations

import threading
import time

import pytest

from engine.core.errors import DataError
from engine.core.types import Progress
from viewer.engine_client import EngineClient
from viewer.work import CANCELLED, DONE, FAILED, Request

pytestmark = pytest.mark.gui


@pytest.fixture()
def client(qapp):
    c = EngineClient()
    yield c
    assert c.shutdown(timeout=5.0)


def spin(seconds: float, step: float = 0.005, flag: list | None = None):
    """A job that yields every ``step`` seconds for ``seconds``; records its clean-up."""
    def job():
        try:
            t0 = time.monotonic()
            i = 0
            while time.monotonic() - t0 < seconds:
                time.sleep(step)
                i += 1
                yield Progress(i, 10**6, f"step {i}", preview={"i": i})
            return i
        finally:
            if flag is not None:
                flag.append(threading.current_thread().name)
    return job


def test_result_arrives_on_the_gui_thread(qtbot, client):
    got = []
    h = client.submit(Request("r", lambda: threading.current_thread().name,
                              on_result=lambda v: got.append((v, threading.current_thread().name))))
    qtbot.waitUntil(lambda: h.state == DONE, timeout=3000)
    assert got[0][0] == "pointlens-engine"
    assert got[0][1] == threading.main_thread().name


def test_progress_is_throttled_and_the_newest_wins(qtbot, client):
    seen = []

    def burst():
        for i in range(1, 3001):
            if i % 10 == 0:
                time.sleep(0.001)
            yield Progress(i, 3000, f"step {i}", preview={"i": i})
        return 3000

    t0 = time.monotonic()
    h = client.submit(Request("p", burst, on_progress=seen.append))
    qtbot.waitUntil(lambda: h.state == DONE, timeout=20000)
    elapsed = time.monotonic() - t0
    assert 1 <= len(seen) <= 30 * elapsed + 2    # 3,000 steps, at most ~30 per second reached the GUI
    assert len(seen) < 300
    steps = [p.preview["i"] for p in seen]
    assert steps == sorted(steps)


def test_cancel_stops_a_running_job_within_200_ms(qtbot, client):
    cleaned = []
    h = client.submit(Request("long", spin(30.0, step=0.05, flag=cleaned)))
    qtbot.waitUntil(lambda: h.progress is not None, timeout=3000)
    t0 = time.monotonic()
    client.cancel(h)
    qtbot.waitUntil(lambda: h.state == CANCELLED, timeout=2000)
    assert time.monotonic() - t0 < 0.2
    assert cleaned == ["pointlens-engine"]       # the generator was closed on the engine thread


def test_latest_wins_for_the_same_target(qtbot, client):
    got = []
    first = client.submit(Request("a", spin(5.0, step=0.01), target="slider", on_result=lambda v: got.append("a")))
    qtbot.waitUntil(lambda: first.progress is not None, timeout=3000)
    queued = client.submit(Request("b", lambda: "b", target="slider", on_result=got.append))
    last = client.submit(Request("c", lambda: "c", target="slider", on_result=got.append))
    qtbot.waitUntil(lambda: last.state == DONE, timeout=3000)
    assert first.state == CANCELLED and queued.state == CANCELLED and got == ["c"]


def test_interactive_requests_jump_the_queue(qtbot, client):
    order = []
    blocker = client.submit(Request("block", spin(0.3, step=0.01)))
    slow = client.submit(Request("batch", lambda: order.append("batch")))
    quick = client.submit(Request("sample", lambda: order.append("sample"), interactive=True))
    qtbot.waitUntil(lambda: slow.state == DONE and quick.state == DONE and blocker.state == DONE, timeout=5000)
    assert order == ["sample", "batch"]


def test_errors_come_back_as_data(qtbot, client):
    failures = []
    client.job_failed.connect(failures.append)

    def bad():
        yield Progress(0, 1)
        raise DataError("/x/y.h5: the file is truncated.", hint="Download it again.")

    h = client.submit(Request("bad", bad))
    qtbot.waitUntil(lambda: h.state == FAILED, timeout=3000)
    assert h.error == "/x/y.h5: the file is truncated. Download it again."
    assert failures == [h]
    ok = client.submit(Request("after", lambda: 42))   # the thread survives
    qtbot.waitUntil(lambda: ok.state == DONE, timeout=3000)


def test_shutdown_cancels_the_running_job_and_joins(qtbot, qapp):
    c = EngineClient()
    cleaned = []
    h = c.submit(Request("long", spin(30.0, step=0.02, flag=cleaned)))
    qtbot.waitUntil(lambda: h.progress is not None, timeout=3000)
    t0 = time.monotonic()
    assert c.shutdown(timeout=5.0)
    assert time.monotonic() - t0 < 0.5 and not c.thread_running() and cleaned
