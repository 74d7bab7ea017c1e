"""Tools > Record movie…: the dialog that sets up a ``movie.MovieRecorder`` and its progress.

Extension module (viewer/extensions.py): ``install(window)`` adds the menu entry and returns the
``Movies`` object (``window.extensions['movie_dialog']``) that tests and other features use.
"""
from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QProgressDialog, QPushButton, QSpinBox, QWidget)

from engine import EngineError

from . import movie, provenance

SOURCES = [("orbit", "Orbit (camera turns 360° about the view-up axis)"),
           ("slider", "Slider sweep (a slider of the visible panel)"),
           ("replay", "Flow AM replay (the Flow AM timeline)")]


class MovieDialog(QDialog):
    def __init__(self, window, movies: "Movies"):
        super().__init__(window)
        self.window, self.movies = window, movies
        self.setWindowTitle("Record movie")
        self.source = QComboBox()
        for key, text in SOURCES:
            self.source.addItem(text, key)
        self.slider = QComboBox()
        self.slider.setToolTip("sliders of the panel on the visible tab (name [range])")
        self.view = QSpinBox()
        self.view.setRange(1, window.viewports.count)
        self.view.setToolTip("which viewport to record")
        self.frames = QSpinBox()
        self.frames.setRange(2, movie.MAX_FRAMES)
        self.frames.setValue(36)
        self.frames.setToolTip("orbit: frames per turn; sweep: slider positions (fewer than the range skips evenly)")
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(12)
        self.width_ = QSpinBox()
        self.height_ = QSpinBox()
        for s in (self.width_, self.height_):
            s.setRange(16, 4096)
            s.setSingleStep(2)
            s.setSuffix(" px")
            s.setToolTip("rounded down to even (MP4 needs even sides)")
        w, h = window.viewports.view_size(0)
        w, h = movie.even_size(w, h)
        self.width_.setValue(w)
        self.height_.setValue(h)
        self.path = QLineEdit(os.path.join(os.getcwd(), "pointlens.mp4"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.note = QLabel("")
        self.note.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("source", self.source)
        form.addRow("slider", self.slider)
        form.addRow("viewport", self.view)
        form.addRow("frames", self.frames)
        form.addRow("frames per second", self.fps)
        size = QHBoxLayout()
        size.addWidget(self.width_)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_)
        form.addRow("size", _row(size))
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(browse)
        form.addRow("file (.mp4 / .gif)", _row(where))
        form.addRow(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.record_btn = buttons.addButton("Record", QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.record)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.source.currentIndexChanged.connect(self._source_changed)
        self._source_changed()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the movie", self.path.text(),
                                              "MP4 video (*.mp4);;Animated GIF (*.gif)")
        if path:
            self.path.setText(path)

    def _source_changed(self) -> None:
        key = self.source.currentData()
        self.slider.clear()
        if key == "slider":
            for label, s in movie.sliders_of(provenance.visible_panel(self.window)):
                self.slider.addItem(label, s)
        elif key == "replay":
            s = movie.find_slider(self.window, movie.REPLAY_SLIDER)
            if s is not None and s.maximum() > s.minimum():
                self.slider.addItem(movie.slider_label(s), s)
                self.frames.setValue(min(movie.MAX_FRAMES, s.maximum() - s.minimum() + 1))
        self.slider.setEnabled(key != "orbit")
        empty = key != "orbit" and self.slider.count() == 0
        self.note.setText("" if not empty else (
            "The visible panel has no slider with a range: pick a method tab and run it first." if key == "slider"
            else "No Flow AM replay yet: run Flow AM (its timeline becomes the replay), then come back."))
        self.record_btn.setEnabled(not empty)

    def spec(self) -> movie.MovieSpec:
        key = self.source.currentData()
        return movie.MovieSpec(
            path=self.path.text().strip(), source="orbit" if key == "orbit" else "slider",
            view=self.view.value() - 1, frames=self.frames.value(), fps=float(self.fps.value()),
            size=(self.width_.value(), self.height_.value()),
            slider=self.slider.currentData() if key != "orbit" else None,
            extra={"replay": "flowam"} if key == "replay" else {})

    def record(self) -> None:
        try:
            self.movies.record(self.spec())
        except EngineError as e:
            self.note.setText(str(e))      # stays open: the user fixes the path or the choice
            return
        self.accept()


def _row(layout) -> QWidget:
    w = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    w.setLayout(layout)
    return w


class Movies:
    """The movie feature of one window: the dialog, the running recorder and its progress."""

    def __init__(self, window):
        self.window = window
        self.recorder: movie.MovieRecorder | None = None
        self.progress: QProgressDialog | None = None
        self.last_path: str | None = None

    def dialog(self) -> MovieDialog:
        d = MovieDialog(self.window, self)
        d.setAttribute(Qt.WA_DeleteOnClose)
        d.show()
        return d

    def record(self, spec: movie.MovieSpec, show_progress: bool = True) -> movie.MovieRecorder:
        """Start recording (returns at once). Raises EngineError for a bad path or choice."""
        if self.recorder is not None and self.recorder.state == "running":
            raise EngineError("a movie is already being recorded", hint="wait for it or cancel it first")
        rec = movie.MovieRecorder(self.window, spec)
        rec.finished.connect(self._done)
        rec.failed.connect(lambda msg: self.window.show_error("Movie not saved", msg))
        rec.cancelled.connect(lambda: self.window.status.setText("movie cancelled; nothing was written"))
        if show_progress:
            p = QProgressDialog(f"Recording {os.path.basename(spec.path)}…", "Cancel", 0, rec.total, self.window)
            p.setWindowTitle("Record movie")
            p.setWindowModality(Qt.NonModal)
            p.setMinimumDuration(0)
            p.canceled.connect(rec.cancel)
            rec.progress.connect(lambda done, total, msg: (p.setLabelText(msg), p.setValue(done)))
            for sig in (rec.finished, rec.failed, rec.cancelled):
                sig.connect(lambda *_: p.reset())
            self.progress = p
        self.recorder = rec.start()
        return rec

    def _done(self, path: str) -> None:
        self.last_path = path
        self.window.status.setText(f"saved movie {path} (+ {os.path.basename(path)}{provenance.SIDECAR_SUFFIX})")


def install(window) -> Movies:
    movies = Movies(window)
    a = window.tools_menu.addAction("Record &movie…")
    a.triggered.connect(lambda _=False: movies.dialog())
    return movies
