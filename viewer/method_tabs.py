"""The Methods dock's tabs: every method's name always in sight.

A QTabBar in a narrow dock hides what does not fit behind scroll arrows ("Flow AM" and "Layers"
did at 370 px). Here the pages stay in a ``QTabWidget`` (``MethodTabs``: the window's
``tabs``, with the usual API) whose own bar is hidden; ``MethodSwitcher`` shows one button per
page in a ``FlowLayout``, which wraps onto a second row instead of scrolling. The two follow
each other both ways, and pages added or removed later (extensions) get their button.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QSizePolicy, QTabWidget, QToolButton, QVBoxLayout, QWidget

from .flow_layout import FlowLayout


class MethodTabs(QTabWidget):
    """A QTabWidget whose tab bar is replaced by a ``MethodSwitcher``."""
    pages_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDocumentMode(True)       # no frame: the page gets the dock's full width
        self.tabBar().hide()

    def tabInserted(self, index: int) -> None:
        super().tabInserted(index)
        self.pages_changed.emit()

    def tabRemoved(self, index: int) -> None:
        super().tabRemoved(index)
        self.pages_changed.emit()


class MethodSwitcher(QWidget):
    """One checkable button per page of ``tabs``, wrapping into rows."""

    def __init__(self, tabs: MethodTabs, parent=None):
        super().__init__(parent)
        self.tabs = tabs
        self.flow = FlowLayout(self, spacing=3)
        self.flow.setContentsMargins(4, 4, 4, 2)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.group.idClicked.connect(self.tabs.setCurrentIndex)
        self.buttons: list[QToolButton] = []
        policy = QSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        policy.setHeightForWidth(True)     # as tall as its rows of buttons at the dock's width
        self.setSizePolicy(policy)
        tabs.pages_changed.connect(self.rebuild)
        tabs.currentChanged.connect(self._follow)
        self.rebuild()

    def rebuild(self) -> None:
        for b in self.buttons:
            self.group.removeButton(b)
            self.flow.removeWidget(b)
            b.deleteLater()
        self.buttons = []
        for i in range(self.tabs.count()):
            b = QToolButton(self)
            b.setText(self.tabs.tabText(i))
            b.setToolTip(self.tabs.tabToolTip(i) or self.tabs.tabText(i))
            b.setCheckable(True)
            b.setAutoRaise(True)
            self.group.addButton(b, i)
            self.flow.addWidget(b)
            self.buttons.append(b)
        self._follow(self.tabs.currentIndex())
        self.updateGeometry()

    def _follow(self, index: int) -> None:
        for i, b in enumerate(self.buttons):
            b.setChecked(i == index)       # drawn pressed (bold would widen it and reflow the rows)


def methods_pane(tabs: MethodTabs) -> tuple[QWidget, MethodSwitcher]:
    """The Methods dock's widget: the switcher above the pages."""
    pane = QWidget()
    lay = QVBoxLayout(pane)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    switcher = MethodSwitcher(tabs)
    lay.addWidget(switcher)
    lay.addWidget(tabs, 1)
    return pane, switcher
