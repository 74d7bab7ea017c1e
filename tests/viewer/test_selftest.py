"""``pointlens --self-test`` (viewer/selftest.py): every registered method runs once through the
real window and engine thread, and a method without a self-test case is reported as a failure."""
from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

pytestmark = pytest.mark.gui


def _shipped_methods() -> list[str]:
    """The methods a fresh process registers: other tests in this process register test-only
    methods (e.g. "test-count") into the same registry."""
    code = "from viewer.selftest import registered_methods; print(' '.join(registered_methods()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_every_registered_method_has_an_example():
    from engine.specs.examples import EXAMPLES

    names = _shipped_methods()
    assert len(names) >= 10
    assert sorted(EXAMPLES) == names, "add an example for each new method to engine/specs/examples.py"


def test_self_test_runs_every_method_in_the_real_app(tmp_path):
    from viewer.selftest import VIEWER_CHECKS

    shot = tmp_path / "selftest.png"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "viewer.launch", "--self-test", "--screenshot", str(shot),
                          "--size", "1200x800", "--timeout", "240"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = [l.split() for l in out.stdout.splitlines() if l.startswith("self-test ok") or l.startswith("self-test FAIL")]
    reported = {w[2]: w[1] for w in lines}
    assert reported == {name: "ok" for name in [*_shipped_methods(), *VIEWER_CHECKS]}
    assert "self-test PASSED" in out.stdout
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


class _FakeWindow:
    """Just what SelfTest touches: records output instead of driving a real window."""

    def __init__(self):
        self.closed = False
        self.session = types.SimpleNamespace(sample=None, client=None)

    def save_window_screenshot(self, path):
        return True

    def close(self):
        self.closed = True


def test_a_method_without_an_example_fails_the_self_test(qapp, qtbot):
    from engine.specs.examples import EXAMPLES
    from viewer.selftest import SelfTest

    lines: list[str] = []
    win = _FakeWindow()
    test = SelfTest(win, screenshot=None, out=lines.append)
    test._got_methods(["brand-new-method"])   # registered, but nobody added an example
    qtbot.waitUntil(lambda: win.closed, timeout=5000)
    assert test.code == 1
    fails = [l for l in lines if l.startswith("self-test FAIL")]
    assert any("brand-new-method" in l and "no example" in l for l in fails)
    # the table's own entries were not registered in this fake engine: reported too, not ignored
    assert all(any(name in l for l in fails) for name in EXAMPLES)
