"""The Mix panel's robustness and calibration table (SageMix paper, Table 3).

A list of classifier checkpoints (the ones trained from the panel this session are added by
themselves; others by path or demo name) and one engine ``robustness`` job per checkpoint, run
one after the other, so each row appears as soon as its model is done. Every job must see the
same clouds and corruption seed: the first job decides the number of points (its checkpoint's,
or the form's) and the later jobs are given that number, which makes the rows equal to one
``robustness`` run over the whole list (a test checks it). The engine cuts clouds as the FIRST
checkpoint was trained (first / random / fps points); so the checkpoints' metadata is read first
(engine thread), and when they were trained with different samplings the table is computed in
one job over the whole list instead (the same clouds for all; rows then arrive together). Columns: clean accuracy, accuracy
under each corruption, and the expected calibration error (ECE, clean split, lower is better).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QSpinBox, QToolButton, QWidget)

from engine import EngineError, checkpoint_problem
from engine.numeric import corruptions        # numpy only (a test checks the GUI still starts without torch)

from ..flow_layout import flow
from ..provenance import describe
from ..work import Request
from .base import button_row, two_columns
from .compare_table import Column, CompareTable

METHOD = "robustness"
KIND_TITLES = {"noise": "noise σ {}", "rotate-x": "rotate x {}°", "rotate-y": "rotate y {}°",
               "rotate-z": "rotate z {}°", "scale": "scale ×{}", "dropout": "drop {}"}


def column_title(spec: str) -> str:
    kind, _, level = spec.partition(":")
    if kind == "dropout":
        try:
            return f"drop {100 * float(level):g} %"
        except ValueError:
            pass
    return KIND_TITLES.get(kind, "{}").format(level) if kind in KIND_TITLES else spec


def row_name(spec: str) -> str:
    """As engine.training.robustness.row_name: 'demo:pointnet' as is, a path by its stem."""
    return spec if spec.startswith("demo:") else Path(spec).stem


def read_samplings(specs: list[str]) -> list[str]:
    """Engine thread: how the engine's robustness loader would cut clouds for each checkpoint
    as the first of a list (its training sampling; "first" when unknown)."""
    from engine import SAMPLINGS, read_meta

    out = []
    for spec in specs:
        norm = read_meta(spec).get("normalisation") or {}
        out.append(norm.get("sampling") if norm.get("sampling") in SAMPLINGS else "first")
    return out


def columns_for(specs: list[str]) -> list[Column]:
    cols = [Column("clean", "clean", help="accuracy on the clean split")]
    cols += [Column(s, column_title(s), help=f"accuracy under the corruption {s}") for s in specs]
    cols.append(Column("ece", "ECE", better="low",
                       help="expected calibration error on the clean split (15 bins; lower is better)"))
    return cols


class RobustnessBox(QGroupBox):
    def __init__(self, panel, initial: tuple[str, ...] = ("demo:pointnet",)):
        super().__init__("Robustness, calibration (Table 3)")     # short: a group title cannot wrap
        self.setToolTip("Accuracy under corruptions and calibration (ECE) per checkpoint (paper Table 3)")
        self._told = False
        self.panel, self.session = panel, panel.session
        self.queue: list[list[str]] = []        # jobs to come, each a list of checkpoints
        self.handle = None
        self.results: dict[str, object] = {}     # spec -> Result of its row
        self.points = 0                          # fixed by the first row of a run
        self._params: dict = {}
        self.note = ""                           # said under the caption (mixed samplings)
        self.labels: dict[str, str] = {}         # spec -> row name (e.g. "pointnet-... · sagemix")

        self.list = QListWidget()
        self.list.setToolTip("classifier checkpoints, one row each (models trained above are added here)")
        self.list.setMaximumHeight(110)
        for spec in initial:
            self.add_checkpoint(spec)
        self.entry = QLineEdit()
        self.entry.setPlaceholderText("path or demo:KEY")
        self.entry.returnPressed.connect(self._add_entry)
        add = QPushButton("Add")
        add.clicked.connect(self._add_entry)
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        self.n_points = QSpinBox()
        self.n_points.setRange(0, 1_000_000)
        self.n_points.setSpecialValueText("as trained")
        self.n_points.setToolTip("points per cloud (0: as the first checkpoint was trained)")
        self.limit = QSpinBox()
        self.limit.setRange(0, 10**9)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("at most this many test clouds, spread over the split (0 = all)")
        self.split = QComboBox()
        self.split.setToolTip("the split of the current dataset the table is computed on")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("seed of the corruptions (the same for every checkpoint)")
        self.corruptions = QLineEdit(",".join(corruptions.TABLE3))
        self.corruptions.setToolTip("comma list of KIND:LEVEL columns (noise, rotate-x/y/z, scale, dropout)")
        self.run_btn = QPushButton("Run table")
        self.cancel_btn = QPushButton("Cancel")
        self.show_btn = QPushButton("Show table")
        self.show_btn.setToolTip("The table is a tab of the Plots dock (with Export CSV…)")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = CompareTable(columns_for(list(corruptions.TABLE3)), row_title="checkpoint", provenance=self.provenance,
                                  file_name="robustness.csv")

        form = QFormLayout(self)
        form.addRow(self.list)
        entry = QWidget()                 # the entry and its "…" stay together; Add/Remove wrap below
        row = QHBoxLayout(entry)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.entry, 1)
        row.addWidget(browse)
        form.addRow(flow(entry, add, remove))
        form.addRow(two_columns(("points", self.n_points), ("test clouds", self.limit), ("seed", self.seed),
                                ("split", self.split)))
        form.addRow("corruptions", self.corruptions)
        form.addRow(button_row(self.run_btn, self.cancel_btn, self.show_btn))
        form.addRow(self.status)
        self.run_btn.clicked.connect(self.start)
        self.show_btn.clicked.connect(self.show_table)
        self.cancel_btn.clicked.connect(self.cancel)
        self.used_data = ""
        self.session.listen(self._on_session)
        self._show_splits()
        self._update_buttons()

    # ---- the list -------------------------------------------------------------------------------
    def specs(self) -> list[str]:
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]

    def add_checkpoint(self, spec: str, label: str = "") -> None:
        """Add a row to come; ``label`` names it in the table (default: the file's stem)."""
        spec = str(spec).strip()
        if not spec or spec in self.specs():
            return
        if label:
            self.labels[spec] = label
        item = QListWidgetItem(f"{label}  ({spec})" if label else spec)
        item.setData(Qt.UserRole, spec)
        item.setToolTip(spec)
        self.list.addItem(item)

    def row_label(self, spec: str) -> str:
        return self.labels.get(spec) or row_name(spec)

    def _add_entry(self) -> None:
        self.add_checkpoint(self.entry.text())
        self.entry.clear()

    def _browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Classifier checkpoints", "", "Checkpoints (*.safetensors *.pt *.pth)")
        for p in paths:
            self.add_checkpoint(p)

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def data_spec(self) -> str:
        cur = self.session.current
        return cur.spec if cur is not None else "builtin"

    def _on_session(self, event: str, _payload) -> None:
        if event == "dataset":
            self._show_splits()

    def _show_splits(self) -> None:
        cur = self.session.current
        names = [sp.name for sp in cur.splits] if cur is not None else ["test"]
        keep = self.split.currentText()
        self.split.clear()
        self.split.addItems(names)
        pick = keep if keep in names else ("test" if "test" in names else names[-1])
        self.split.setCurrentText(pick)

    # ---- the jobs -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return bool(self.queue) or (self.handle is not None and self.handle.active)

    def show_table(self) -> None:
        self.panel.plots.widget_tab(f"{self.panel.name}.robustness.table", f"{self.panel.title} robustness table",
                                    self.table)

    def _update_buttons(self) -> None:
        self.run_btn.setEnabled(not self.running)
        self.cancel_btn.setEnabled(self.running)

    def params(self) -> dict:
        cols = [c.strip() for c in self.corruptions.text().split(",") if c.strip()]
        return {"points": self.n_points.value(), "limit": self.limit.value(), "seed": self.seed.value(),
                "corruptions": ",".join(cols), "split": self.split.currentText() or "test"}

    def provenance(self) -> dict:
        return describe(METHOD, dict(self._params, checkpoints=",".join(self.results)), self.session.provenance(),
                        table_data=self.used_data,
                        checkpoints=[self._resolved(s) for s in self.results])

    def _resolved(self, spec: str) -> str:
        """The file a spec was read from (demo:KEY -> its assets path), from the row's Result."""
        res = self.results[spec]
        specs = res.params.get("checkpoints", spec).split(",")
        files = res.provenance.get("checkpoints") or specs
        return files[specs.index(spec)] if spec in specs and len(files) == len(specs) else spec

    def start(self) -> None:
        if self.running:
            return
        specs = self.specs()
        if not specs:
            self.panel.failed(self.status, "Robustness table", "the checkpoint list is empty: add a classifier "
                              "checkpoint (a path or demo:pointnet).")
            return
        problems = [p for p in (checkpoint_problem(s) for s in specs) if p]
        if problems:      # nothing runs: one message naming every bad entry
            self.panel.failed(self.status, "Robustness table",
                              "; ".join(problems) + " Remove it from the list or fix it, then run again.")
            return
        try:      # the engine's names ("scale:2.0" -> "scale:2") key the columns
            cols = [corruptions.parse(c).spec for c in self.params()["corruptions"].split(",")]
        except EngineError as e:
            self.panel.failed(self.status, "Robustness table", f"corruptions: {e}")
            return
        self._params = dict(self.params(), corruptions=",".join(cols))
        self.used_data = self.data_spec()
        self.results, self.points = {}, int(self._params["points"])
        self._told = False                 # one dialog per run, however many rows fail
        self.table.clear()
        self.table.set_columns(columns_for(cols))
        for s in specs:
            self.table.pending(self.row_label(s), tooltip=s)
        self.table.set_caption(f"Running {len(specs)} checkpoint(s) on the {self._params['split']} split of "
                               f"<b>{self.used_data}</b>…")
        self.status.setText("reading the checkpoints…")
        self.show_table()
        self.handle = self.session.client.submit(Request(
            "Robustness: read checkpoints", lambda: read_samplings(specs), target=f"{self.panel.name}.robustness",
            on_result=lambda samplings: self._plan(specs, samplings), quiet=True, listed=False,
            on_error=lambda msg: self._failed_all(specs, msg), on_cancel=self._update_buttons))
        self._update_buttons()

    def _plan(self, specs: list[str], samplings: list[str]) -> None:
        self.note = ""
        if len(set(samplings)) == 1:       # one job per row: rows appear as they are done
            self.queue = [[s] for s in specs]
        else:
            self.queue = [list(specs)]
            self.note = (f"<br>The checkpoints were trained with different point samplings "
                         f"({', '.join(sorted(set(samplings)))}): every row uses the first checkpoint's "
                         f"({samplings[0]}), computed in one job so all rows see the same clouds.")
            self.status.setText("different point samplings: one job for all rows")
        self.handle = None
        self._next()

    def _failed_all(self, specs: list[str], msg: str) -> None:
        self.handle = None
        for s in specs:
            self.table.set_row(self.row_label(s), {}, tooltip=f"not run: {msg}")
        self.panel.failed(self.status, "Robustness table", msg)
        self._update_buttons()

    def cancel(self) -> None:
        self.queue = []
        if self.handle is not None and self.handle.active:
            self.handle.cancel()
        self.table.drop_pending()
        self.status.setText("cancelled; finished rows stay")
        self._update_buttons()

    def _next(self) -> None:
        if not self.queue:
            self.handle = None
            self._update_buttons()
            return
        specs = self.queue.pop(0)
        params = dict(self._params, checkpoints=",".join(specs), points=self.points)
        names = ", ".join(self.row_label(s) for s in specs)
        self.status.setText(f"{names}: starting…")
        self.handle = self.panel.run_method(
            METHOD, {"data": self.used_data}, params, target=f"{self.panel.name}.robustness",
            name=f"Robustness: {names}",
            on_progress=lambda p: self.status.setText(f"{p.message} ({100 * p.fraction:.0f} %)"),
            on_result=lambda res, ss=specs: self._rows_done(ss, res),
            on_error=lambda msg, ss=specs: self._rows_failed(ss, msg), on_cancel=self._update_buttons)
        self._update_buttons()

    def _rows_done(self, specs: list[str], res) -> None:
        m = res.metrics
        if [c.key for c in self.table.columns] != [*m["columns"], "ece"]:   # the engine's names ("scale:2")
            self.table.set_columns(columns_for(m["columns"][1:]))
        for spec, row in zip(specs, m["table"]):
            self.results[spec] = res
            self.table.set_row(self.row_label(spec), {c: row[c] for c in m["columns"]} | {"ece": row["ece"]},
                               tooltip=f"{spec} ({row['model']})")
        self.points = int(m["points"])          # later rows: the same clouds
        names = ", ".join(self.row_label(s) for s in specs)
        self.session.add_result(f"robustness {names}", res, show=False)
        self.table.set_caption(
            f"Accuracy on the <b>{m['split']}</b> split of <b>{m['data']}</b> ({m['n']} clouds, {m['points']} points "
            f"each{'' if self._params.get('points') else ', as the first checkpoint was trained'}), clean and under each corruption (seed {m['seed']}: the same clouds and noise for every "
            "checkpoint). ECE: expected calibration error on the clean split, 15 bins, lower is better. "
            "Bold: best per column." + self.note)
        done = len(self.results)
        self.status.setText(f"{done} row(s) done" + (f", {len(self.queue)} to go" if self.queue else ""))
        self._next()

    def _rows_failed(self, specs: list[str], msg: str) -> None:
        for spec in specs:
            self.table.set_row(self.row_label(spec), {}, tooltip=f"{spec} failed: {msg}")
        what = f"Robustness: {', '.join(self.row_label(s) for s in specs)}"
        if self._told:                     # later rows: the panel line and the row's tooltip say it
            self.status.setText(f"failed: {what}: {msg}")
        else:
            self._told = True
            self.panel.failed(self.status, what, msg)
        self._next()
