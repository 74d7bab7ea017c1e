"""Layouts that wrap instead of widening their dock.

- ``FlowLayout``: items left to right, wrapping into rows when the width runs out (the Qt
  "flow layout" example). Its minimum width is its widest item, so a row of buttons never makes
  a side panel wider than its dock; ``uniform=True`` gives every item the width of the widest
  one and stretches each row's items to the full width (a grid that reflows: two columns of
  label + field pairs become one when narrow).
- ``labelled(label, widget)``: a label and its field as one flow item (``base.two_columns``).

Both report ``heightForWidth``, which QFormLayout, the box layouts and QScrollArea honour.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLayout, QSizePolicy, QStyle, QWidget


class FlowLayout(QLayout):
    def __init__(self, parent=None, *, spacing: int = -1, uniform: bool = False, max_columns: int = 0):
        super().__init__(parent)
        self._items = []
        self._spacing = spacing
        self.uniform = uniform
        self.max_columns = max_columns      # 0: as many as fit
        if parent is None:
            self.setContentsMargins(0, 0, 0, 0)

    # ---- QLayout ---------------------------------------------------------------------------------
    def addItem(self, item) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):
        return Qt.Orientations(Qt.Horizontal)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, apply=True)

    def sizeHint(self) -> QSize:
        """Everything on one row (when there is room, the items sit side by side)."""
        items = self._visible()
        if not items:
            return self._margins(QSize(0, 0))
        hints = [i.sizeHint() for i in items]
        cell = max(h.width() for h in hints)
        n = len(items) if not self.max_columns else min(len(items), self.max_columns)
        w = (cell * n if self.uniform else sum(h.width() for h in hints[:n])) + self._hspace() * (n - 1)
        rows = -(-len(items) // n)
        h = max(h.height() for h in hints) * rows + self._vspace() * (rows - 1)
        return self._margins(QSize(w, h))

    def minimumSize(self) -> QSize:
        items = self._visible()
        size = QSize(0, 0)
        for i in items:
            size = size.expandedTo(i.minimumSize())
        if self.uniform and items:   # a cell is never narrower than the widest item's hint
            size.setWidth(max(size.width(), max(i.sizeHint().width() for i in items)))
        return self._margins(size)

    # ---- placing ---------------------------------------------------------------------------------
    def _margins(self, size: QSize) -> QSize:
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _visible(self):
        return [i for i in self._items if not (i.widget() is not None and i.widget().isHidden())]

    def _space(self, orientation) -> int:
        if self._spacing >= 0:
            return self._spacing
        parent = self.parent()
        if parent is None:
            return 6
        if isinstance(parent, QWidget):
            pm = QStyle.PM_LayoutHorizontalSpacing if orientation == Qt.Horizontal else QStyle.PM_LayoutVerticalSpacing
            s = parent.style().pixelMetric(pm, None, parent)
            return s if s >= 0 else 6
        s = parent.spacing() if isinstance(parent, QLayout) else -1
        return s if s >= 0 else 6

    def _hspace(self) -> int:
        return self._space(Qt.Horizontal)

    def _vspace(self) -> int:
        return self._space(Qt.Vertical)

    def rows(self, width: int) -> list[list]:
        """The visible items in the rows they take at ``width`` (content width, no margins)."""
        items = self._visible()
        if not items:
            return []
        hs = self._hspace()
        if self.uniform:
            cell = max(i.sizeHint().width() for i in items)
            per_row = max(1, (width + hs) // (cell + hs))
            if self.max_columns:
                per_row = min(per_row, self.max_columns)
            return [items[k:k + per_row] for k in range(0, len(items), per_row)]
        rows, row, used = [], [], 0
        for i in items:
            w = i.sizeHint().width()
            if row and used + hs + w > width or (self.max_columns and len(row) >= self.max_columns):
                rows.append(row)
                row, used = [], 0
            used += (hs if row else 0) + w
            row.append(i)
        rows.append(row)
        return rows

    def _place(self, rect: QRect, apply: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        hs, vs = self._hspace(), self._vspace()
        y = area.y()
        rows = self.rows(area.width())
        per_row = max((len(r) for r in rows), default=1)
        for k, row in enumerate(rows):
            height = max(i.sizeHint().height() for i in row)
            if apply:
                if self.uniform:   # cells of one width, the grid stretched to the full width
                    cell = (area.width() - hs * (per_row - 1)) // per_row
                    widths = [cell] * len(row)
                else:              # natural widths; the spare width goes to expanding items
                    widths = [i.sizeHint().width() for i in row]
                    spare = area.width() - sum(widths) - hs * (len(row) - 1)
                    grow = [n for n, i in enumerate(row) if i.expandingDirections() & Qt.Horizontal]
                    for n in grow:
                        widths[n] += spare // len(grow)
                    if spare < 0:          # one item alone on a row wider than the area
                        widths = [min(w, area.width()) for w in widths]
                x = area.x()
                for i, w in zip(row, widths):
                    w = max(w, i.minimumSize().width()) if not self.uniform else w
                    i.setGeometry(QRect(QPoint(x, y), QSize(w, height)))
                    x += w + hs
            y += height + (vs if k < len(rows) - 1 else 0)
        return y - area.y() + m.top() + m.bottom()


def flow(*widgets: QWidget, uniform: bool = False, max_columns: int = 0) -> FlowLayout:
    lay = FlowLayout(uniform=uniform, max_columns=max_columns)
    for w in widgets:
        lay.addWidget(w)
    return lay


def labelled(label: str | QLabel, widget: QWidget, label_width: int = 0) -> QWidget:
    """``label`` and ``widget`` side by side as one item (the label ``label_width`` wide, so
    the fields of a reflowing grid line up)."""
    cell = QWidget()
    row = QHBoxLayout(cell)
    row.setContentsMargins(0, 0, 0, 0)
    lab = label if isinstance(label, QLabel) else QLabel(label)
    lab.setBuddy(widget)
    if label_width:
        lab.setFixedWidth(label_width)
    row.addWidget(lab)
    row.addWidget(widget, 1)
    cell.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
    return cell
