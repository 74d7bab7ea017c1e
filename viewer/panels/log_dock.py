"""The Log dock: every status line, error and traceback, newest at the bottom.

Lines may come from any thread (Python ``logging`` on the ``pointlens`` logger); a signal hops
them onto the GUI thread.
"""
from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit

log = logging.getLogger("pointlens")


class _Bridge(QObject):
    line = Signal(str)


class _Handler(logging.Handler):
    def __init__(self, bridge: _Bridge):
        super().__init__()
        self.bridge = bridge

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self.bridge.line.emit(text)
        except Exception:  # never let logging break the app
            pass


class LogView(QPlainTextEdit):
    MAX_LINES = 5000

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(self.MAX_LINES)
        font = QFont("monospace")
        font.setStyleHint(QFont.Monospace)
        font.setPointSize(9)
        self.setFont(font)
        self.bridge = _Bridge()
        self.bridge.line.connect(self.appendPlainText)
        self.handler = _Handler(self.bridge)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
        log.addHandler(self.handler)
        log.setLevel(logging.INFO)

    def detach(self) -> None:
        log.removeHandler(self.handler)

    def text(self) -> str:
        return self.toPlainText()


def stamp() -> str:
    return time.strftime("%H:%M:%S")
