"""File > Open checkpoint…: the file, and where its keys do not say enough, which model it is,
that model's options and the class names.

Most files need nothing but the path: PointLens checkpoints carry their model and classes, and
the public DGCNN / PointNet / PointNet++ / SeRP / Point-MAE layouts are recognised from their
keys. The other fields are for the rest: a state dict that two architectures could own, a model
trained with non-default options (``k=40``), a 40-class head saved without names. Left empty,
the class names are the file's own, else the open dataset's when the head size matches.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QVBoxLayout)

import engine

DETECT = "Detect from the file's keys"


class CheckpointDialog(QDialog):
    """Collects a checkpoint choice; ``choice()`` is the engine's ``CheckpointChoice`` (or the plain
    path when nothing but the path was given) once the dialog is accepted."""

    def __init__(self, parent=None, path: str = "", ckpt_filter: str = "All files (*)"):
        super().__init__(parent)
        self.setWindowTitle("Open a checkpoint")
        self.resize(620, 0)
        self._filter = ckpt_filter
        self._choice = None

        self.path = QLineEdit(path)
        self.path.setPlaceholderText("a .safetensors, .pth, .pt, .t7, .tar, .ckpt or .bin file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)

        self.model = QComboBox()
        self.model.addItem(DETECT, None)
        for key, about in engine.classifier_models():
            self.model.addItem(f"{key} — {about}" if about else key, key)
        self.model.setToolTip("Name the architecture only when the file's keys do not tell it")
        self.options = QLineEdit()
        self.options.setPlaceholderText("e.g. k=40, emb_dims=1024 (empty: the file's, else the model's defaults)")
        self.classes = QLineEdit()
        self.classes.setPlaceholderText("a, b, c … or a names file (empty: the file's, else the open dataset's)")
        classes_file = QPushButton("Names file…")
        classes_file.clicked.connect(self._browse_classes)
        classes_row = QHBoxLayout()
        classes_row.addWidget(self.classes, 1)
        classes_row.addWidget(classes_file)

        form = QFormLayout()
        form.addRow("Checkpoint", path_row)
        form.addRow("Model", self.model)
        form.addRow("Model options", self.options)
        form.addRow("Class names", classes_row)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020")
        self.problem.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint", self.path.text(), self._filter)
        if path:
            self.path.setText(path)

    def _browse_classes(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class names, one per line", "", "Text (*.txt);;All files (*)")
        if path:
            self.classes.setText(path)

    def set_model(self, key: str) -> None:
        index = self.model.findData(key)
        if index < 0:
            raise ValueError(f"no model '{key}' in the picker")
        self.model.setCurrentIndex(index)

    def choice(self):
        return self._choice

    def accept(self) -> None:
        """Check every field before closing: a bad one is named under the form, the dialog stays."""
        try:
            self._choice = build_choice(self.path.text(), self.model.currentData(), self.options.text(),
                                        self.classes.text())
        except engine.EngineError as e:
            self.problem.setText(e.message + (f" {e.hint}" if getattr(e, "hint", "") else ""))
            self.problem.show()
            return
        super().accept()


def build_choice(path: str, model: str | None, options: str, classes: str):
    """The plain path when only a path is given (the common case keeps its simple spec), else a
    ``CheckpointChoice`` with the parsed options and names."""
    path = path.strip()
    if not path:
        raise engine.ParameterError("Checkpoint: no file given.", hint="Choose a checkpoint file.")
    opts = engine.parse_model_options(options) if options.strip() else {}
    names = engine.parse_classes(classes) if classes.strip() else None
    if model is None and not opts and names is None:
        return path
    return engine.CheckpointChoice(spec=path, model=model, model_options=tuple(sorted(opts.items())),
                                   classes=tuple(names) if names is not None else None)


def open_dialog(window, path: str = "", problem: str = "") -> CheckpointDialog:
    """Show the dialog (non-blocking); an accepted choice opens on the engine thread."""
    from engine import CHECKPOINT_SUFFIXES

    last = window.session.checkpoint
    if not path and last is not None and not last.path.startswith("demo:"):
        path = last.path
    ckpt_filter = f"Checkpoints ({' '.join('*' + s for s in CHECKPOINT_SUFFIXES)});;All files (*)"
    dialog = CheckpointDialog(window, path, ckpt_filter)
    if problem:
        dialog.problem.setText(problem)
        dialog.problem.show()
    dialog.accepted.connect(lambda: window.session.open_checkpoint(dialog.choice()))
    window.checkpoint_dialog = dialog          # kept alive while open; tests reach it here
    dialog.open()
    return dialog


def install(window):
    """Extension: a checkpoint whose keys name no known model (dropped, or picked from the recent
    list) opens this dialog with the loader's message, so the user can name the model there."""
    window.session.ask_model_for = lambda path, msg: open_dialog(
        window, path, f"{msg}\nPick the model below (and its options if it was trained with others).")
    return window.session.ask_model_for
