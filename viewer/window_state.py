"""The window state that sessions save and undo/redo restores, read and applied generically:

- **panel values**: every value-holding child widget of each method panel (spin boxes, combo
  boxes, check boxes / checkable buttons, sliders, line edits), found by walking the widget
  tree, so a new panel is covered without code here. Each widget gets a key that stays the
  same from run to run: the panel attribute that holds it (``steps``, ``train_box.epochs``,
  ``methods[2]``), else its objectName, else its position in the tree
  (``~QGroupBox0/QSpinBox1``). Values are plain JSON (int, float, bool, str).
- **view state**: viewport count, linked, parallel, up axis and every camera.

Applying values sets the widgets the way a user would (their signals fire, so panels react).
"""
from __future__ import annotations

from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QComboBox, QDoubleSpinBox, QLineEdit, QSlider,
                               QSpinBox, QWidget)

VALUE_TYPES = (QSpinBox, QDoubleSpinBox, QComboBox, QAbstractButton, QSlider, QLineEdit)


# ---- widgets that hold a value -------------------------------------------------------------------

def holds_value(w: QWidget, root: QWidget) -> bool:
    if isinstance(w, QAbstractButton) and not w.isCheckable():
        return False
    if isinstance(w, QLineEdit) and w.isReadOnly():
        return False
    if not isinstance(w, VALUE_TYPES):
        return False
    p = w.parentWidget()
    while p is not None and p is not root:   # the line edit inside a spin box or combo box
        if isinstance(p, (QAbstractSpinBox, QComboBox)):
            return False
        p = p.parentWidget()
    return True


def _is_ours(obj) -> bool:
    """A Python-defined widget class (its attributes name its children), not a Qt one."""
    return isinstance(obj, QWidget) and not type(obj).__module__.startswith("PySide6")


def _attribute_names(root: QWidget) -> dict[int, str]:
    """id(widget) -> the attribute path under which ``root`` (or a sub-widget class) holds it."""
    names: dict[int, str] = {}

    def visit(obj, prefix: str, depth: int) -> None:
        for attr, val in list(vars(obj).items()):
            items = [(attr, val)]
            if isinstance(val, (list, tuple)):
                items = [(f"{attr}[{i}]", v) for i, v in enumerate(val)]
            elif isinstance(val, dict):
                items = [(f"{attr}[{k}]", v) for k, v in val.items() if isinstance(k, (str, int))]
            for name, v in items:
                if isinstance(v, QWidget) and v is not root and root.isAncestorOf(v) and id(v) not in names:
                    names[id(v)] = prefix + name
                    if _is_ours(v) and depth < 4:
                        visit(v, f"{prefix}{name}.", depth + 1)

    visit(root, "", 0)
    return names


def _tree_path(w: QWidget, root: QWidget) -> str:
    parts = []
    while w is not None and w is not root:
        parent = w.parentWidget()
        cls = type(w).__name__
        same = [c for c in (parent.children() if parent else []) if type(c).__name__ == cls]
        parts.append(f"{cls}{same.index(w) if w in same else 0}")
        w = parent
    return "~" + "/".join(reversed(parts))


def value_widgets(root: QWidget) -> dict[str, QWidget]:
    """Key -> widget for every value-holding descendant of ``root`` (in tree order)."""
    names = _attribute_names(root)
    out: dict[str, QWidget] = {}
    for w in root.findChildren(QWidget):
        if not holds_value(w, root):
            continue
        key = names.get(id(w)) or (f"#{w.objectName()}" if w.objectName() else _tree_path(w, root))
        if key in out:   # two widgets under one name: keep them apart by tree position
            key = f"{key}{_tree_path(w, root)}"
        out[key] = w
    return out


def read(w: QWidget):
    if isinstance(w, QDoubleSpinBox):
        return float(w.value())
    if isinstance(w, (QSpinBox, QSlider)):
        return int(w.value())
    if isinstance(w, QComboBox):
        return w.currentText()
    if isinstance(w, QAbstractButton):
        return bool(w.isChecked())
    if isinstance(w, QLineEdit):
        return w.text()
    raise TypeError(f"{type(w).__name__} holds no value")


def write(w: QWidget, value) -> bool:
    """Set a widget's value; False if it cannot take it (wrong type, no such item)."""
    if read(w) == value:
        return True
    try:
        if isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        elif isinstance(w, (QSpinBox, QSlider)):
            w.setValue(int(value))
        elif isinstance(w, QComboBox):
            i = w.findText(str(value))
            if i >= 0:
                w.setCurrentIndex(i)
            elif w.isEditable():
                w.setCurrentText(str(value))
            else:
                return False
        elif isinstance(w, QAbstractButton):
            w.setChecked(bool(value))
        elif isinstance(w, QLineEdit):
            w.setText(str(value))
        else:
            return False
    except (TypeError, ValueError, OverflowError):
        return False
    return read(w) == value or isinstance(w, QDoubleSpinBox) and abs(read(w) - float(value)) < 1e-9


def panel_values(panels) -> dict[str, dict]:
    return {p.name: {k: read(w) for k, w in value_widgets(p).items()} for p in panels}


def apply_panel_values(panels, values: dict[str, dict]) -> list[str]:
    """Set every saved value; returns 'panel: key' of those that could not be set. Two passes:
    a combo box may fill another widget's choices when it changes."""
    by_name = {p.name: p for p in panels}
    failed = []
    for name, saved in values.items():
        panel = by_name.get(name)
        if panel is None:
            failed.append(f"{name}: (no such panel)")
            continue
        widgets = value_widgets(panel)
        todo = {k: v for k, v in saved.items() if k in widgets}
        failed += [f"{name}: {k}" for k in saved if k not in widgets]
        for _ in range(2):
            todo = {k: v for k, v in todo.items() if not write(widgets[k], v)}
        failed += [f"{name}: {k}" for k in todo]
    return failed


# ---- the view -------------------------------------------------------------------------------------

def view_state(window) -> dict:
    vp = window.viewports
    return {"count": int(vp.count), "linked": bool(vp.linked), "parallel": bool(vp.parallel),
            "up_axis": window.settings.get("layout/up_axis"), "cameras": vp.camera_states()}


def apply_view_state(window, state: dict) -> None:
    """Layout, link, projection and up axis through the window (its actions and settings stay
    in step), then the cameras (last: the others reset them)."""
    window.set_layout(int(state.get("count", 1)))
    linked, parallel = bool(state.get("linked", True)), bool(state.get("parallel", False))
    window.link_action.setChecked(linked)
    window.set_linked(linked)
    window.parallel_action.setChecked(parallel)
    window.set_parallel(parallel)
    up = state.get("up_axis")
    if up in window.up_actions and up != window.settings.get("layout/up_axis"):
        window.up_actions[up].setChecked(True)
        window.set_up_axis(up)
    if state.get("cameras"):
        window.viewports.set_camera_states(state["cameras"])


def same_cameras(a: list[dict], b: list[dict], count: int = 4, tol: float = 1e-6) -> bool:
    import numpy as np

    for ca, cb in list(zip(a, b))[:count]:
        for k in ("position", "focal_point", "view_up", "view_angle", "parallel_scale"):
            if not np.allclose(ca[k], cb[k], atol=tol, rtol=tol):
                return False
        if ca["parallel_projection"] != cb["parallel_projection"]:
            return False
    return True


def same_view(a: dict, b: dict) -> bool:
    return (all(a.get(k) == b.get(k) for k in ("count", "linked", "parallel", "up_axis"))
            and same_cameras(a["cameras"], b["cameras"], a.get("count", 4)))
