"""A small histogram drawn beside a threshold or level slider: where the values lie, and the cut.

A slider that thresholds per-point values (PointMask's t, ParAE's density level, SeRP's noise
std) says little on its own: is t = 0.5 in the middle of the values or past all of them? This
widget shows the distribution of those values with the current setting as a vertical line, and
how many values lie above and below it.

The values are binned once per result (``set_values``); moving the slider only moves the line
(``set_value``), and the above/below counts come from a binary search in the values sorted once,
so a drag never re-bins. Painted with QPainter: a plot library would cost more than the ~60 px
it fills.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

HEIGHT = 60               # px, bars and the text line under them
BAR = QColor("#9aa5b1")
BAR_ABOVE = QColor("#0072b2")      # bins past the line (the values a threshold keeps)
LINE = QColor("#d55e00")
TEXT = QColor("#202020")


class ValueHistogram(QWidget):
    """Histogram of one result's values with a movable marker.

    ``words``: what a value above / not above the marker is called (e.g. ("kept", "masked")), for
    the counts under the bars; None shows the marker's ``label`` there instead. ``label``: the
    marker value as text (e.g. ``lambda v: f"t = {v:.2f}"``); it is
    given the value in the widget's own units (a log level, for a log-scale slider). ``about``: what
    the values are (the tooltip's first line)."""

    def __init__(self, parent=None, bins: int = 40, words: tuple[str, str] | None = ("above", "below"),
                 label: Callable[[float], str] = lambda v: f"{v:.3g}", about: str = ""):
        super().__init__(parent)
        self.about = about
        if bins < 1:
            raise ValueError(f"a histogram needs at least one bin, not {bins}")
        self.bins, self.words, self.label = int(bins), words, label
        self.counts = np.zeros(0, np.int64)
        self.edges = np.zeros(0)
        self.value: float | None = None
        self.binnings = 0                  # how many times values were binned (a drag must not add any)
        self._sorted = np.zeros(0)
        self._span = ""
        self.setFixedHeight(HEIGHT)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumWidth(40)         # it follows its slider's width, however narrow the panel
        self.setToolTip(about)

    # ---- data ------------------------------------------------------------------------------------
    def set_values(self, values, lo: float | None = None, hi: float | None = None) -> None:
        """Bin ``values`` over [lo, hi] (default: their own range). Values outside land in the end
        bins, so every value is counted once; non-finite ones are dropped."""
        v = np.asarray(values, np.float64).reshape(-1)
        v = np.sort(v[np.isfinite(v)])
        self._sorted = v
        lo = float(v.min()) if lo is None and v.size else (0.0 if lo is None else float(lo))
        hi = float(v.max()) if hi is None and v.size else (1.0 if hi is None else float(hi))
        if not hi > lo:              # one distinct value: give it a bin of its own width
            hi = lo + (abs(lo) or 1.0) * 1e-6
        self.counts, self.edges = np.histogram(np.clip(v, lo, hi), bins=self.bins, range=(lo, hi))
        self.binnings += 1
        self._span = f"{v.size:,} values from {self.label(float(v[0]))} to {self.label(float(v[-1]))}" if v.size else ""
        self.setToolTip("\n".join(t for t in (self.about, self._span) if t))
        self.update()

    def clear(self) -> None:
        self.counts, self.edges, self._sorted, self.value = np.zeros(0, np.int64), np.zeros(0), np.zeros(0), None
        self._span = ""
        self.setToolTip(self.about)
        self.update()

    def set_value(self, value: float) -> None:
        """Move the marker (no re-binning)."""
        self.value = float(value)
        self.setToolTip("\n".join(t for t in (self.about, self._span, self.text() if self.n else "") if t))
        self.update()

    @property
    def n(self) -> int:
        return int(self._sorted.size)

    def above(self) -> tuple[int, int]:
        """(values > marker, values <= marker): the strict side is the kept one, as PointMask keeps
        sigmoid(J) > t and a ParAE surface g(x) = c encloses g > c."""
        if self.value is None or not self.n:
            return 0, self.n
        below = int(np.searchsorted(self._sorted, self.value, side="right"))
        return self.n - below, below

    def text(self) -> str:
        if not self.n:
            return "no values yet"
        if self.value is None:
            return f"{self.n:,} values"
        if not self.words:
            return self.label(self.value)
        # counts only: the slider beside it shows the value, and a panel column is narrow
        up, down = self.above()
        return f"{up:,} {self.words[0]} · {down:,} {self.words[1]}"

    # ---- geometry ----------------------------------------------------------------------------------
    def _text_font(self) -> QFont:
        f = QFont(self.font())
        f.setPointSizeF(max(f.pointSizeF() - 1.0, 7.0))
        return f

    def _text_height(self) -> int:
        return QFontMetrics(self._text_font()).height() + 1

    def plot_rect(self) -> QRectF:
        return QRectF(1.0, 1.0, max(self.width() - 2.0, 1.0), max(self.height() - self._text_height() - 2.0, 1.0))

    def marker_x(self) -> float | None:
        """The marker's x in widget pixels (clamped to the plot), None without values or marker."""
        if self.value is None or self.edges.size < 2:
            return None
        r = self.plot_rect()
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        f = min(max((self.value - lo) / (hi - lo), 0.0), 1.0)
        return r.left() + f * r.width()

    # ---- painting --------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        try:
            r = self.plot_rect()
            p.setPen(QPen(QColor("#c8c8c8"), 1))
            p.drawLine(r.bottomLeft(), r.bottomRight())
            if self.counts.size and self.counts.max() > 0:
                # square-root heights: a few values in the tails stay visible beside a tall mode
                h = np.sqrt(self.counts / self.counts.max()) * r.height()
                w = r.width() / self.counts.size
                mx = self.marker_x()
                p.setPen(Qt.NoPen)
                for i, hi in enumerate(h):
                    if hi <= 0:
                        continue
                    x = r.left() + i * w
                    p.setBrush(BAR_ABOVE if mx is not None and x + w / 2 > mx else BAR)
                    p.drawRect(QRectF(x, r.bottom() - hi, max(w - 1.0, 1.0), hi))
            mx = self.marker_x()
            if mx is not None:
                p.setPen(QPen(LINE, 2))
                p.drawLine(int(round(mx)), int(r.top()), int(round(mx)), int(r.bottom()))
            p.setPen(TEXT)
            p.setFont(self._text_font())
            th = self._text_height()
            text = p.fontMetrics().elidedText(self.text(), Qt.ElideRight, self.width())   # whole in the tooltip
            p.drawText(QRectF(0, self.height() - th, self.width(), th), Qt.AlignLeft | Qt.AlignVCenter, text)
        finally:
            p.end()
