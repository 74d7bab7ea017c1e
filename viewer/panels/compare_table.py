"""A small comparison table: rows = models/checkpoints, columns = metrics.

Used by the SeRP panel (scratch vs pre-trained) and the Mix panel (robustness and calibration).
The table lives in a tab of the Plots dock (``PlotsDock.widget_tab``), beside the curves: the bottom
dock is as wide as the window, the side panel is too narrow for ten columns.
Rows are filled in live (``pending`` shows a row that is still being computed, ``set_row`` fills
it), cells carry units ("83.4 %"), the best value of every column is bold (higher or lower is
better, per column), a caption says what was run, and "Export CSV…" writes the table atomically
with a provenance line (``viewer.provenance.write_csv``) so a number in a paper can be traced
back to its checkpoint, data and parameters.

A value is a float, ``(value, error)`` for "value ± error", or NaN/None for "not available".
Percent columns hold fractions (0.834) and show percent; the CSV writes what the table shows, at
full precision, with the unit in the header.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine import EngineError

from ..provenance import write_csv

PENDING = "…"
MISSING = "–"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    unit: str = "%"          # "%": the value is a fraction shown as percent; "" or another unit: as is
    better: str = "high"     # "high" or "low": which value is bold; "" for no best
    decimals: int = 1
    help: str = ""

    def scale(self, v: float) -> float:
        return 100.0 * v if self.unit == "%" else v

    def header(self) -> str:
        return f"{self.title} ({self.unit})" if self.unit else self.title


def split_value(v: Any) -> tuple[float, float | None]:
    """(value, error or None); NaN for a missing value."""
    if isinstance(v, (tuple, list)):
        value, err = (v[0], v[1]) if len(v) > 1 else (v[0], None)
    else:
        value, err = v, None
    value = math.nan if value is None else float(value)
    err = None if err is None or not math.isfinite(float(err)) else float(err)
    return value, err


def cell_text(col: Column, v: Any) -> str:
    value, err = split_value(v)
    if not math.isfinite(value):
        return MISSING
    text = f"{col.scale(value):.{col.decimals}f}"
    if err is not None:
        text += f" ± {col.scale(err):.{col.decimals}f}"
    return text + (" %" if col.unit == "%" else "")


def best_rows(col: Column, values: list[Any], text=None) -> set[int]:
    """Indices of the best finite value(s) of a column; none for fewer than two. Ties are judged
    as the table shows them: 83.41 % and 83.38 % both read "83.4 %", so both are bold. ``text``:
    how a table that formats its own cells writes a value (default: the column's unit and decimals)."""
    finite = [(i, split_value(v)[0]) for i, v in enumerate(values)]
    finite = [(i, x) for i, x in finite if math.isfinite(x)]
    if col.better not in ("high", "low") or len(finite) < 2:
        return set()
    pick = max if col.better == "high" else min
    best = pick(x for _, x in finite)

    def shown(x: float) -> str:
        if text is not None:
            return text(x)
        return f"{col.scale(x) + 0.0:.{col.decimals}f}"     # + 0.0: -0.0 reads as 0.0

    return {i for i, x in finite if shown(x) == shown(best)}


def plain(html: str) -> str:
    """A caption's text without markup (for the CSV's provenance line)."""
    text = re.sub(r"<br\s*/?>", "; ", html)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&").strip()


def _number(x: float) -> str:
    return "" if not math.isfinite(x) else repr(float(x))


class CompareTable(QWidget):
    """Caption, table and an "Export CSV…" button. ``provenance``: a callable returning the dict
    written with the CSV (the panel builds it from the method, its params and the session)."""

    def __init__(self, columns: list[Column] | tuple = (), *, row_title: str = "model",
                 provenance: Callable[[], dict] | None = None, file_name: str = "table.csv", parent=None):
        super().__init__(parent)
        self.columns: list[Column] = list(columns)
        self.row_title = row_title
        self.provenance = provenance or (lambda: {})
        self.file_name = file_name
        self._rows: list[tuple[str, dict, str]] = []     # (name, values, tooltip)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.RichText)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.export_btn = QPushButton("Export CSV…")
        self.export_btn.setToolTip("Write the table as CSV (with a provenance line: checkpoints, data, parameters)")
        self.export_btn.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.export_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.caption)
        lay.addWidget(self.table)
        lay.addLayout(row)
        self.export_btn.clicked.connect(self._export_clicked)
        self._rebuild()

    # ---- content -------------------------------------------------------------------------------
    def set_columns(self, columns: list[Column]) -> None:
        self.columns = list(columns)
        self._rebuild()

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)

    def clear(self) -> None:
        self._rows = []
        self.status.setText("")
        self._rebuild()

    def row_names(self) -> list[str]:
        return [r[0] for r in self._rows]

    def values(self, name: str) -> dict | None:
        """The values of row ``name`` (None while it is pending)."""
        vals = next(r[1] for r in self._rows if r[0] == name)
        return None if vals is None else dict(vals)

    def drop_pending(self) -> None:
        """Remove the rows still waiting for numbers (a cancelled run)."""
        self._rows = [r for r in self._rows if r[1] is not None]
        self._rebuild()

    def filled(self, name: str) -> bool:
        return any(n == name and v is not None for n, v, _ in self._rows)

    def pending(self, name: str, tooltip: str = "") -> None:
        """A row that is being computed (cells show "…" until ``set_row``)."""
        self._put(name, None, tooltip)

    def set_row(self, name: str, values: dict, tooltip: str = "") -> None:
        """Add or replace the row ``name``; ``values``: column key -> value (see module doc)."""
        self._put(name, dict(values), tooltip)

    def _put(self, name: str, values: dict | None, tooltip: str) -> None:
        for i, r in enumerate(self._rows):
            if r[0] == name:
                self._rows[i] = (name, values, tooltip or r[2])
                break
        else:
            self._rows.append((name, values, tooltip))
        self._rebuild()

    def text(self, row: int, col: int) -> str:
        """The shown text of a cell (col 0 is the row name)."""
        item = self.table.item(row, col)
        return item.text() if item is not None else ""

    def is_bold(self, row: int, col: int) -> bool:
        item = self.table.item(row, col)
        return bool(item is not None and item.font().bold())

    def _rebuild(self) -> None:
        t = self.table
        t.setColumnCount(1 + len(self.columns))
        t.setHorizontalHeaderLabels([self.row_title] + [c.header() for c in self.columns])
        for j, c in enumerate(self.columns, start=1):
            if c.help:
                t.horizontalHeaderItem(j).setToolTip(c.help)
        t.setRowCount(len(self._rows))
        best = {c.key: best_rows(c, [(vals or {}).get(c.key) for _, vals, _ in self._rows]) for c in self.columns}
        bold = QFont(t.font())
        bold.setBold(True)
        for i, (name, vals, tip) in enumerate(self._rows):
            head = QTableWidgetItem(name)
            head.setToolTip(tip or name)
            t.setItem(i, 0, head)
            for j, c in enumerate(self.columns, start=1):
                item = QTableWidgetItem(PENDING if vals is None else cell_text(c, vals.get(c.key)))
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if i in best[c.key]:
                    item.setFont(bold)
                    item.setToolTip(f"best {c.title} in this table ({'higher' if c.better == 'high' else 'lower'} is better)")
                t.setItem(i, j, item)
        self.export_btn.setEnabled(any(v is not None for _, v, _ in self._rows))

    # ---- CSV -----------------------------------------------------------------------------------
    def csv_header_rows(self) -> tuple[list[str], list[list[str]]]:
        """What the CSV holds: the shown numbers (percent for % columns) at full precision, an
        extra "± ..." column after every column that has an error anywhere."""
        filled = [(n, v) for n, v, _ in self._rows if v is not None]
        with_err = {c.key for c in self.columns
                    if any(split_value(v.get(c.key))[1] is not None for _, v in filled)}
        header = [self.row_title]
        for c in self.columns:
            header.append(c.header())
            if c.key in with_err:
                header.append(f"± {c.header()}")
        rows = []
        for name, vals in filled:
            row = [name]
            for c in self.columns:
                value, err = split_value(vals.get(c.key))
                row.append(_number(c.scale(value)))
                if c.key in with_err:
                    row.append("" if err is None else _number(c.scale(err)))
            rows.append(row)
        return header, rows

    def export_csv(self, path: str) -> str:
        header, rows = self.csv_header_rows()
        prov = dict(self.provenance() or {})
        prov.setdefault("table", plain(self.caption.text()))
        write_csv(str(path), header, rows, prov)
        self.status.setText(f"wrote {path}")
        return str(path)

    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export table as CSV", self.file_name, "CSV (*.csv)")
        if not path:
            return
        try:
            self.export_csv(path)
        except EngineError as e:      # write_csv names the file and what to do
            self.status.setText(str(e))
