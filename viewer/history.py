"""Undo/redo of what the user changes in the window (a QUndoStack; Edit > Undo Ctrl+Z, Redo
Ctrl+Shift+Z, Undo history).

Recorded steps:
- **parameters**: every value widget of every method panel (the generic walk of
  ``window_state``), value before -> after. Only USER changes count: a panel filling or
  clamping its own widgets is not a step. What tells them apart, per widget kind, is a
  user-only Qt signal (combo ``activated``, button ``clicked``, line-edit ``textEdited``,
  slider ``actionTriggered``) or, for spin boxes (which have none), a key, wheel or mouse
  event on the widget just before the change. Consecutive changes of one widget merge into
  one step: a slider drag (pressed to released), or typing / wheel turns less than
  ``MERGE_S`` apart.
- **view**: the camera after a mouse interaction ends, camera presets, layout count,
  linked cameras, parallel projection (one ``ViewChange`` with the whole view before/after).
- **layer visibility** from the Layers tab.

Applying an undo or redo sets widgets and views programmatically with recording paused, so it
never records a new step. ``paused()`` does the same for a session restore.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QComboBox, QDialog, QLineEdit, QSlider,
                               QToolBar, QUndoView, QVBoxLayout, QWidget)

from . import window_state as ws

MERGE_S = 1.0          # changes of one widget closer than this are one step
USER_EVENT_S = 0.5     # a spin box change this soon after the user touched it is the user's
PARAM_ID, VIEW_ID = 1, 2
_USER_EVENTS = {QEvent.KeyPress, QEvent.Wheel, QEvent.MouseButtonPress, QEvent.MouseButtonDblClick}


class ParamChange(QUndoCommand):
    def __init__(self, history: "History", widget: QWidget, label: str, old, new, drag: int | None):
        super().__init__(f"{label}: {old!r} → {new!r}")
        self.history, self.widget, self.label = history, widget, label
        self.old, self.new, self.drag = old, new, drag
        self.t = time.monotonic()
        self.closed = False   # undone or redone once: a later change is a new step
        self._done = True     # pushed after the change happened: the first redo does nothing

    def id(self) -> int:
        return PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, ParamChange) or other.widget is not self.widget or self.closed:
            return False
        if self.drag is not None or other.drag is not None:   # slider drags: one step per drag
            if self.drag != other.drag:
                return False
        elif other.t - self.t >= MERGE_S:
            return False
        self.new, self.t = other.new, other.t
        self.setText(f"{self.label}: {self.old!r} → {self.new!r}")
        self.setObsolete(self.new == self.old)   # dragged back to where it was: no step
        return True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.closed = True
        self.history.set_value(self.widget, self.new)

    def undo(self) -> None:
        self.closed = True
        self.history.set_value(self.widget, self.old)


class ViewChange(QUndoCommand):
    def __init__(self, history: "History", label: str, old: dict, new: dict):
        super().__init__(label)
        self.history, self.old, self.new = history, old, new
        self._done = True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.history.set_view(self.new)

    def undo(self) -> None:
        self.history.set_view(self.old)


class LayerVisibility(QUndoCommand):
    def __init__(self, history: "History", name: str, visible: bool):
        super().__init__(f"{'show' if visible else 'hide'} layer {name}")
        self.history, self.name, self.visible = history, name, visible
        self._done = True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.history.set_visible(self.name, self.visible)

    def undo(self) -> None:
        self.history.set_visible(self.name, not self.visible)


def _view_label(old: dict, new: dict) -> str:
    if old["count"] != new["count"]:
        return f"layout: {new['count']} view{'s' if new['count'] > 1 else ''}"
    if old["linked"] != new["linked"]:
        return "link cameras" if new["linked"] else "unlink cameras"
    if old["parallel"] != new["parallel"]:
        return "parallel projection" if new["parallel"] else "perspective projection"
    return "camera"


class History(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(500)
        self._applying = 0
        self._last: dict[QWidget, object] = {}
        self._prev: dict[QWidget, object] = {}
        self._labels: dict[QWidget, str] = {}
        self._touched: dict[QObject, QWidget] = {}   # spin box or its inner line edit -> spin box
        self._touch_time: dict[QWidget, float] = {}
        self._held: set[QWidget] = set()
        self._armed: dict[QWidget, float] = {}       # slider: user action just triggered
        self._drag: dict[QWidget, int] = {}
        self._drags = 0
        self._interacting = False
        self._dialog = None
        for panel in window.method_panels:
            for key, w in ws.value_widgets(panel).items():
                self._track(w, f"{panel.title} · {key}")
        self._track_view()
        window.layers.visible.clicked.connect(self._visibility_clicked)

    # ---- menus --------------------------------------------------------------------------------
    def add_actions(self, menu) -> None:
        self.undo_action = self.stack.createUndoAction(self.window, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = self.stack.createRedoAction(self.window, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)
        menu.addAction("Undo &history…", self.show_history)

    def show_history(self) -> QDialog:
        if self._dialog is None:
            self._dialog = QDialog(self.window)
            self._dialog.setWindowTitle("Undo history")
            lay = QVBoxLayout(self._dialog)
            view = QUndoView(self.stack)
            view.setEmptyLabel("(as opened)")
            lay.addWidget(view)
            self._dialog.resize(360, 420)
        self._dialog.show()
        self._dialog.raise_()
        return self._dialog

    # ---- recording pause ------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self._applying == 0

    @contextmanager
    def paused(self):
        """Changes made inside are not recorded (undo/redo itself, a session restore)."""
        self._applying += 1
        try:
            yield
        finally:
            self._applying -= 1
            self._view_baseline = ws.view_state(self.window)

    def clear(self) -> None:
        self.stack.clear()

    # ---- parameters ----------------------------------------------------------------------------
    def _track(self, w: QWidget, label: str) -> None:
        self._labels[w] = label
        self._last[w] = ws.read(w)
        self._prev[w] = self._last[w]
        if isinstance(w, QComboBox):
            w.currentIndexChanged.connect(lambda *_, w=w: self._changed(w))
            w.activated.connect(lambda *_, w=w: self._user_change(w))
        elif isinstance(w, QAbstractButton):
            w.toggled.connect(lambda *_, w=w: self._changed(w))
            w.clicked.connect(lambda *_, w=w: self._user_change(w))
        elif isinstance(w, QLineEdit):
            w.textChanged.connect(lambda *_, w=w: self._changed(w))
            w.textEdited.connect(lambda *_, w=w: self._user_change(w))
        elif isinstance(w, QSlider):
            w.actionTriggered.connect(lambda *_, w=w: self._armed.__setitem__(w, time.monotonic()))
            w.sliderPressed.connect(lambda w=w: self._new_drag(w))
            w.valueChanged.connect(lambda *_, w=w: self._slider_changed(w))
        elif isinstance(w, QAbstractSpinBox):
            for obj in [w] + w.findChildren(QWidget):
                self._touched[obj] = w
                obj.installEventFilter(self)
            w.valueChanged.connect(lambda *_, w=w: self._spin_changed(w))

    def eventFilter(self, obj, ev) -> bool:
        t = ev.type()
        w = self._touched.get(obj) if (t in _USER_EVENTS or t == QEvent.MouseButtonRelease) else None
        if w is not None:
            self._touch_time[w] = time.monotonic()
            # a held arrow button repeats steps with no new events: held counts as touching
            if t in (QEvent.MouseButtonPress, QEvent.MouseButtonDblClick):
                self._held.add(w)
            elif t == QEvent.MouseButtonRelease:
                self._held.discard(w)
        return False

    def _changed(self, w: QWidget) -> None:
        """Any change (user or program): keep the value before it for the user signal after."""
        self._prev[w], self._last[w] = self._last[w], ws.read(w)

    def _user_change(self, w: QWidget, drag: int | None = None) -> None:
        """A user signal for ``w``: record old -> new whether the value signal came before it
        (then ``_last`` is already new) or not at all yet."""
        new = ws.read(w)
        old = self._prev[w] if self._last[w] == new else self._last[w]
        self._prev[w] = self._last[w] = new   # consumed: choosing the same item again is no step
        if self.recording and old != new:
            self.stack.push(ParamChange(self, w, self._labels[w], old, new, drag))

    def _new_drag(self, w: QWidget) -> None:
        self._drags += 1
        self._drag[w] = self._drags

    def _slider_changed(self, w: QSlider) -> None:
        user = w.isSliderDown() or time.monotonic() - self._armed.pop(w, -1e9) < USER_EVENT_S
        if user:
            self._user_change(w, self._drag.get(w) if w.isSliderDown() else None)
        else:
            self._changed(w)

    def _spin_changed(self, w: QAbstractSpinBox) -> None:
        user = w in self._held or time.monotonic() - self._touch_time.get(w, -1e9) < USER_EVENT_S
        if user:
            self._user_change(w)
        else:
            self._changed(w)

    def set_value(self, w: QWidget, value) -> None:
        with self.paused():
            ws.write(w, value)
            self._prev[w] = self._last[w] = ws.read(w)

    # ---- the view --------------------------------------------------------------------------------
    def _track_view(self) -> None:
        win = self.window
        vp = win.viewports
        self._view_baseline = ws.view_state(win)
        vp.on_interaction(lambda: self._interaction(True), lambda: self._interaction(False), self._rendered)
        actions = list(win.layout_actions.values()) + [win.link_action, win.parallel_action]
        for bar in win.findChildren(QToolBar):
            if bar.objectName() == "view-toolbar":   # camera presets and Reset
                actions += [a for a in bar.actions() if a not in actions]
        for a in actions:
            a.triggered.connect(lambda *_: self._view_action())

    def _interaction(self, started: bool) -> None:
        if started:
            if not self._interacting:
                self._interacting = True
                self._view_baseline = ws.view_state(self.window)
        elif self._interacting:
            self._interacting = False
            self._view_action()

    def _rendered(self) -> None:
        """After each frame the user has not caused (a new sample fitted, a panel's layers):
        that view is the 'before' of the next user change."""
        if not self._interacting and self.recording:
            self._view_baseline = ws.view_state(self.window)

    def _view_action(self) -> None:
        if not self.recording or self.window.viewports.window is None:
            return
        old, new = self._view_baseline, ws.view_state(self.window)
        if not ws.same_view(old, new):
            self.stack.push(ViewChange(self, _view_label(old, new), old, new))
        self._view_baseline = new

    def set_view(self, state: dict) -> None:
        with self.paused():
            ws.apply_view_state(self.window, state)

    # ---- layers ------------------------------------------------------------------------------------
    def _visibility_clicked(self, checked: bool) -> None:
        name = self.window.layers.current_name()
        if self.recording and name:
            self.stack.push(LayerVisibility(self, name, bool(checked)))

    def set_visible(self, name: str, visible: bool) -> None:
        scene = self.window.scene
        if name in scene:
            with self.paused():
                scene.set_style(name, visible=bool(visible))


def install(window) -> History:
    history = History(window)
    if window.edit_menu.actions():
        window.edit_menu.addSeparator()
    history.add_actions(window.edit_menu)
    return history
