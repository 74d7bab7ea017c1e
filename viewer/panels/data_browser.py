"""The data browser (left dock): open datasets, split, class filter, search, true vs predicted
label, "misclassified only"; choosing a row loads that sample."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QTableView, QToolButton, QVBoxLayout, QWidget)

from ..flow_layout import FlowLayout
from ..tasks import DatasetInfo

HEADERS = ("#", "sample", "true", "predicted")
WRONG = QColor(213, 94, 0)   # Okabe-Ito vermillion


def short_names(names) -> tuple[str, ...]:
    """Names without the prefix they all share (e.g. the file name before '#index')."""
    names = list(names)
    if len(names) < 2:
        return tuple(names)
    import os

    prefix = os.path.commonprefix(names)
    return tuple(n[len(prefix):] or n for n in names)


class SampleModel(QAbstractTableModel):
    def __init__(self):
        super().__init__()
        self.info: DatasetInfo | None = None
        self.split = ""
        self.rows = np.zeros(0, np.int64)   # sample indices shown, in order
        self.short: tuple[str, ...] = ()
        self.preds: np.ndarray | None = None

    def set_rows(self, info, split, rows, preds) -> None:
        self.beginResetModel()
        if (info, split) != (self.info, self.split):
            self.short = short_names(info.split(split).names) if info is not None else ()
        self.info, self.split, self.rows, self.preds = info, split, rows, preds
        self.endResetModel()

    @property
    def names_informative(self) -> bool:
        """False when names are only the index (then the column is hidden)."""
        return any(n != str(i) for i, n in enumerate(self.short))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(HEADERS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return HEADERS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or self.info is None:
            return None
        i = int(self.rows[index.row()])
        sp = self.info.split(self.split)
        true = int(sp.labels[i])
        pred = int(self.preds[i]) if self.preds is not None else -1
        col = index.column()
        if role == Qt.DisplayRole:
            if col == 0:
                return str(i)
            if col == 1:
                return self.short[i]
            if col == 2:
                return self.info.class_name(true)
            return self.info.class_name(pred) if pred >= 0 else ""
        if role == Qt.ForegroundRole and col == 3 and pred >= 0 and pred != true:
            return WRONG
        if role == Qt.ToolTipRole and col == 1:
            return sp.names[i]
        if role == Qt.ToolTipRole and col == 3 and pred >= 0:
            return "misclassified" if pred != true else "correct"
        return None


class DataBrowser(QWidget):
    sample_chosen = Signal(str, int)      # split, index
    open_requested = Signal()
    predict_requested = Signal(str)       # split

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.dataset = QComboBox()
        self.dataset.setToolTip("Open datasets (File > Open, drag and drop, or recent files)")
        # long dataset titles must not widen the dock
        self.dataset.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.dataset.setMinimumContentsLength(8)
        open_btn = QToolButton()        # a QPushButton is never narrower than 80 px (the style's minimum)
        open_btn.setText("Open…")
        open_btn.setToolTip("Open a dataset file (File > Open dataset file…)")
        open_btn.clicked.connect(self.open_requested)
        self.split = QComboBox()
        self.klass = QComboBox()
        self.split.setToolTip("The split whose samples are listed")
        self.klass.setToolTip("List only the samples of this class")
        for box, chars in ((self.split, 3), (self.klass, 6)):    # the dock stays narrow; the popup shows all
            box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(chars)
        self.search = QLineEdit()
        self.search.setPlaceholderText("search sample names")
        self.search.setClearButtonEnabled(True)
        self.wrong_only = QCheckBox("misclassified only")
        self.wrong_only.setToolTip("Needs predicted labels: Inspect samples, or press 'Predict split'")
        self.predict = QPushButton("Predict split")
        self.predict.setToolTip("Classify every sample of this split with the open checkpoint")
        self.count = QLabel("")
        # wraps: unwrapped at presenter mode's 1.5x font this one line held the Data dock (and the
        # demo tabbed with it) 514 px wide, leaving the views 59 % of a 1280 px window
        self.count.setWordWrap(True)
        self.model = SampleModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        for col in (1, 2, 3):          # share the dock's width: the narrow dock never scrolls sideways
            hh.setSectionResizeMode(col, QHeaderView.Stretch)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.ElideMiddle)    # long sample names keep their end (the index)
        self.table.setAlternatingRowColors(True)

        top = QHBoxLayout()
        top.addWidget(self.dataset, 1)
        top.addWidget(open_btn)
        filt = QHBoxLayout()            # no "split"/"class" labels: a narrow dock, the choices say it
        filt.addWidget(self.split, 1)
        filt.addWidget(self.klass, 2)
        bottom = FlowLayout()           # the button wraps under the check box in a narrow dock
        bottom.addWidget(self.wrong_only)
        bottom.addWidget(self.predict)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addLayout(filt)
        lay.addWidget(self.search)
        lay.addLayout(bottom)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.count)

        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        self.split.currentIndexChanged.connect(lambda _: self.refresh())
        self.klass.currentIndexChanged.connect(lambda _: self.refresh())
        self.search.textChanged.connect(lambda _: self.refresh())
        self.wrong_only.toggled.connect(lambda _: self.refresh())
        self.predict.clicked.connect(lambda: self.predict_requested.emit(self.split.currentText()))
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self._updating = False

    # ---- session events -------------------------------------------------------------------
    def on_session(self, event: str, payload) -> None:
        if event == "datasets":
            self._updating = True
            cur = self.session.current.key if self.session.current else None
            self.dataset.clear()
            for info in payload:
                self.dataset.addItem(info.title, info.key)
            if cur:
                self.dataset.setCurrentIndex(max(0, self.dataset.findData(cur)))
            self._updating = False
        elif event == "dataset":
            self._set_dataset(payload)
        elif event == "predictions":
            key, split = payload
            info = self.session.current
            if info is not None and info.key == key and split == self.split.currentText():
                self.refresh(keep_selection=True)
        elif event == "sample":
            self._show_current(payload)

    def _dataset_changed(self, _index: int) -> None:
        if self._updating:
            return
        key = self.dataset.currentData()
        if key and (self.session.current is None or self.session.current.key != key):
            self.session.set_dataset(key)

    def _set_dataset(self, info: DatasetInfo) -> None:
        self._updating = True
        idx = self.dataset.findData(info.key)
        if idx >= 0:
            self.dataset.setCurrentIndex(idx)
        self.split.blockSignals(True)
        self.split.clear()
        self.split.addItems([s.name for s in info.splits])
        self.split.setCurrentText("test" if any(s.name == "test" for s in info.splits) else info.splits[0].name)
        self.split.blockSignals(False)
        self._fill_classes(info)
        self._updating = False
        self.refresh()

    def _fill_classes(self, info: DatasetInfo) -> None:
        self.klass.blockSignals(True)
        self.klass.clear()
        self.klass.addItem("all classes", -1)
        counts = np.zeros(len(info.classes), np.int64)
        for s in info.splits:
            if s.labels.size:
                c = np.bincount(s.labels[(s.labels >= 0) & (s.labels < len(info.classes))],
                                minlength=len(info.classes))
                counts += c[:len(info.classes)]
        for i, name in enumerate(info.classes):
            if counts[i] > 0:
                self.klass.addItem(f"{name} ({counts[i]:,})", i)
        self.klass.blockSignals(False)

    # ---- filtering --------------------------------------------------------------------------
    def filtered(self) -> np.ndarray:
        info = self.session.current
        if info is None or not self.split.currentText():
            return np.zeros(0, np.int64)
        sp = info.split(self.split.currentText())
        keep = np.ones(sp.count, bool)
        k = self.klass.currentData()
        if k is not None and k >= 0:
            keep &= sp.labels == k
        text = self.search.text().strip().lower()
        if text:
            keep &= np.array([text in n.lower() for n in sp.names], bool)
        if self.wrong_only.isChecked():
            preds = self.session.predictions.get((info.key, sp.name))
            keep &= (preds >= 0) & (preds != sp.labels) if preds is not None else False
        return np.flatnonzero(keep)

    def refresh(self, keep_selection: bool = False) -> None:
        info = self.session.current
        if info is None:
            return
        split = self.split.currentText()
        if not split:
            return
        current = self._current_index()
        rows = self.filtered()
        preds = self.session.predictions.get((info.key, split))
        self.model.set_rows(info, split, rows, preds)
        self.table.setColumnHidden(1, not self.model.names_informative)
        total = info.split(split).count
        extra = ""
        if preds is not None:
            known = preds >= 0
            wrong = int(((preds != info.split(split).labels) & known).sum())
            extra = f" · predicted {int(known.sum()):,}, misclassified {wrong:,}"
        elif self.wrong_only.isChecked():
            extra = " · no predictions yet: press 'Predict split'"
        self.count.setText(f"{len(rows):,} of {total:,} samples shown{extra}")
        s = self.session.sample
        target = current if keep_selection else (s.index if s is not None and s.split == split else None)
        if target is not None:
            self._select_row_for(target)

    def _current_index(self) -> int | None:
        r = self.table.currentIndex().row()
        return int(self.model.rows[r]) if 0 <= r < len(self.model.rows) else None

    def _select_row_for(self, index: int) -> None:
        pos = np.flatnonzero(self.model.rows == index)
        if pos.size:
            self._updating = True
            self.table.selectRow(int(pos[0]))
            self.table.scrollTo(self.model.index(int(pos[0]), 0))
            self._updating = False

    def _show_current(self, sample) -> None:
        if sample.split == self.split.currentText():
            self._select_row_for(sample.index)

    def _row_changed(self, current: QModelIndex, _prev) -> None:
        if self._updating or not current.isValid():
            return
        index = int(self.model.rows[current.row()])
        self.sample_chosen.emit(self.split.currentText(), index)

    def choose(self, split: str, index: int) -> None:
        """Select a sample programmatically (tests, keyboard shortcuts)."""
        self.split.setCurrentText(split)
        self.sample_chosen.emit(split, index)
