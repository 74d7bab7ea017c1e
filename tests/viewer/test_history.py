"""Undo/redo in the real window: a spin-box change, a camera drag, a layout change, linked
cameras, layer visibility, and a slider drag that is one step; undo never records a step."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QToolBar

from viewer import window_state as ws

pytestmark = pytest.mark.gui


def _history(win):
    h = win.extensions["history"]
    h.clear()
    return h


def _show_panel(win, name):
    panel = next(p for p in win.method_panels if p.name == name)
    for i in range(win.tabs.count()):
        if win.tabs.widget(i).widget() is panel:
            win.tabs.setCurrentIndex(i)
    return panel


def _drag(widget, start, end, steps=8):
    """A left-button drag as the window system delivers it."""
    def send(kind, pos, button, buttons):
        p = QPointF(*pos)
        QApplication.sendEvent(widget, QMouseEvent(kind, p, widget.mapToGlobal(p), button, buttons, Qt.NoModifier))

    send(QEvent.MouseButtonPress, start, Qt.LeftButton, Qt.LeftButton)
    for i in range(1, steps + 1):
        t = i / steps
        send(QEvent.MouseMove, (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])),
             Qt.NoButton, Qt.LeftButton)
    send(QEvent.MouseButtonRelease, end, Qt.LeftButton, Qt.NoButton)


def test_spin_box_change_undo_redo(win, qtbot):
    h = _history(win)
    spin = _show_panel(win, "flowam").steps
    spin.setValue(300)                      # a program change is not a step
    assert h.stack.count() == 0
    qtbot.keyClick(spin, Qt.Key_Up)         # the user steps it
    assert spin.value() == 301 and h.stack.count() == 1
    assert "steps" in h.stack.text(0) and "300" in h.stack.text(0) and "301" in h.stack.text(0)
    h.stack.undo()
    assert spin.value() == 300 and h.stack.count() == 1 and h.stack.index() == 0   # undo recorded nothing
    h.stack.redo()
    assert spin.value() == 301 and h.stack.count() == 1 and h.stack.index() == 1
    qtbot.keyClick(spin, Qt.Key_Up)          # quick repeats of one widget are one step ...
    qtbot.keyClick(spin, Qt.Key_Up)
    assert spin.value() == 303 and h.stack.count() == 2
    h.stack.undo()
    assert spin.value() == 301
    win.extensions["history"].undo_action.trigger()            # ... and the Edit menu's Undo works too
    assert spin.value() == 300 and h.stack.index() == 0
    assert win.extensions["history"].undo_action.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [k.toString() for k in win.extensions["history"].redo_action.shortcuts()]


def test_camera_drag_is_one_step_and_undoes(win, qtbot):
    h = _history(win)
    win.set_layout(1)
    win.viewports.render_now()
    qtbot.wait(50)
    before = win.viewports.camera_states()
    vtk = win.viewports.vtk
    w, hgt = vtk.width(), vtk.height()
    _drag(vtk, (w * 0.5, hgt * 0.5), (w * 0.5 + 120, hgt * 0.5 + 40))
    win.viewports.render_now()
    after = win.viewports.camera_states()
    assert not ws.same_cameras(before, after, count=1), "the drag did not rotate the camera"
    assert h.stack.count() == 1 and h.stack.text(0) == "camera"
    h.stack.undo()
    assert ws.same_cameras(win.viewports.camera_states(), before, count=1)
    h.stack.redo()
    assert ws.same_cameras(win.viewports.camera_states(), after, count=1)
    assert h.stack.count() == 1


def test_layout_and_link_changes_undo_redo(win, qtbot):
    h = _history(win)
    win.set_layout(1)
    win.link_action.setChecked(True)
    win.viewports.render_now()
    win.layout_actions[4].trigger()          # what the toolbar / View menu does
    assert win.viewports.count == 4 and h.stack.count() == 1 and "4 views" in h.stack.text(0)
    win.link_action.trigger()
    assert not win.viewports.linked and h.stack.count() == 2 and h.stack.text(1) == "unlink cameras"
    h.stack.undo()
    assert win.viewports.linked and win.link_action.isChecked()
    h.stack.undo()
    assert win.viewports.count == 1 and win.layout_actions[1].isChecked()
    h.stack.redo()
    assert win.viewports.count == 4 and win.layout_actions[4].isChecked() and h.stack.count() == 2
    win.set_layout(1)
    win.viewports.render_now()
    before = win.viewports.camera_states()
    preset = next(a for a in win.findChild(QToolBar, "view-toolbar").actions() if a.text() == "+x")
    preset.trigger()                         # a camera preset is a view step too (replacing the redo branch)
    assert h.stack.count() == 2 and h.stack.index() == 2 and h.stack.text(1) == "camera"
    h.stack.undo()
    assert ws.same_cameras(win.viewports.camera_states(), before, count=1)


def test_layer_visibility_undo(win, qtbot):
    from viewer.session import CLOUD

    h = _history(win)
    win.layers.select(CLOUD)
    assert win.scene.get(CLOUD).visible
    win.layers.visible.click()
    assert not win.scene.get(CLOUD).visible and h.stack.count() == 1
    h.stack.undo()
    assert win.scene.get(CLOUD).visible and win.layers.visible.isChecked() and h.stack.count() == 1
    h.stack.redo()
    assert not win.scene.get(CLOUD).visible
    h.stack.undo()


def test_slider_drag_is_one_undo_step(win, qtbot):
    h = _history(win)
    slider = _show_panel(win, "pointmask").slider
    slider.setValue(50)
    assert h.stack.count() == 0
    slider.setSliderDown(True)               # a drag: pressed, many moves, released
    for v in range(51, 71):
        slider.setSliderPosition(v)
    slider.setSliderDown(False)
    assert slider.value() == 70 and h.stack.count() == 1
    slider.setSliderDown(True)               # a second drag is a second step
    for v in (65, 60):
        slider.setSliderPosition(v)
    slider.setSliderDown(False)
    assert h.stack.count() == 2
    h.stack.undo()
    assert slider.value() == 70
    h.stack.undo()
    assert slider.value() == 50 and h.stack.count() == 2
    h.stack.redo()
    assert slider.value() == 70
    slider.setSliderDown(True)               # dragged back to where it started: no step at all
    for v in (75, 70):                       # (a new change drops the redo branch, as in any editor)
        slider.setSliderPosition(v)
    slider.setSliderDown(False)
    assert h.stack.count() == 1 and h.stack.index() == 1 and slider.value() == 70
