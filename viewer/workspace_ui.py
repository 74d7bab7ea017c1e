"""File > Save session…, Open session…, Recent sessions: the whole workspace in one file.

Saving gathers the state on the GUI thread (plain values and the kept Results) and writes on
the engine thread (``workspace.save_steps``: fingerprints, then arrays, atomically). Opening
reads and checks the file on the engine thread; a corrupt or foreign file fails that job with
one message naming the file, before anything open is touched. Then ``Restore`` opens the
datasets and checkpoint through the session (engine thread), selects the saved sample, and
applies panel values, results, layer visibility and the view (layout, cameras) last.
"""
from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from . import window_state as ws
from . import workspace
from .work import Request

log = logging.getLogger("pointlens")
RECENT_KEY = "session/recent"
MAX_RECENT = 8
FILTER = f"PointLens sessions (*{workspace.SUFFIX});;All files (*)"
LAYER_WAIT_MS = 60_000   # saved visibility still applies to layers a re-run adds this soon


def gather(window) -> tuple[dict, list]:
    """The manifest (plain values) and kept results of the window's workspace."""
    s = window.session
    cur = s.current.key if s.current is not None else None
    manifest = {
        "datasets": [{"spec": d.spec, "format": d.format, "fingerprint": d.fingerprint, "current": d.key == cur}
                     for d in s.datasets.values()],
        "sample": ({"dataset": s.sample.dataset.spec, "split": s.sample.split, "index": int(s.sample.index)}
                   if s.sample is not None else None),
        "checkpoint": ({"spec": s.checkpoint.path, "model": s.checkpoint.model,
                        "fingerprint": s.checkpoint.fingerprint, **_named(s.checkpoint.spec)}
                       if s.checkpoint is not None else None),
        "device": s.device,
        "panels": ws.panel_values(window.method_panels),
        "view": ws.view_state(window),
        "layers": {layer.name: bool(layer.visible) for layer in s.scene.layers() if not layer.name.startswith("_")},
    }
    return manifest, list(s.results)


def _named(spec) -> dict:
    """What File > Open checkpoint… named beside the path (model, options, classes), as plain values."""
    if not hasattr(spec, "load"):
        return {}
    return {"named_model": spec.model, "model_options": [list(kv) for kv in spec.model_options],
            "classes": list(spec.classes) if spec.classes is not None else None}


def _choice(ck: dict):
    """The saved checkpoint as ``Session.open_checkpoint`` takes it: the path, or the choice again."""
    if not any(k in ck for k in ("named_model", "model_options", "classes")):
        return ck["spec"]
    from engine import CheckpointChoice

    classes = ck.get("classes")
    return CheckpointChoice(spec=ck["spec"], model=ck.get("named_model"),
                            model_options=tuple((str(k), v) for k, v in ck.get("model_options") or ()),
                            classes=tuple(classes) if classes is not None else None)


def _load_for_restore(path: str, device: str):
    """Engine thread: read + check the file; list devices only if the session used another."""
    wsp, problems = workspace.load_and_check(path)
    want = wsp.manifest.get("device") or "cpu"
    devices = None
    if want != device and want != "cpu":
        from .tasks import available_devices

        devices = available_devices()
    return wsp, problems, devices


class Sessions(QObject):
    restored = Signal(object)    # the Restore that finished (its .problems, .notes)
    saved = Signal(str)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.restore: Restore | None = None

    # ---- menus ---------------------------------------------------------------------------------
    def add_actions(self, menu) -> None:
        quit_action = next((a for a in menu.actions() if a.text().replace("&", "") == "Quit"), None)
        first = menu.insertSeparator(quit_action) if quit_action else menu.addSeparator()
        self.save_action = menu.addAction("Save sess&ion…", self.save_dialog)
        self.open_action = menu.addAction("Open sessio&n…", self.open_dialog)
        self.recent_menu = menu.addMenu("Recent sessions")
        for a in (self.save_action, self.open_action, self.recent_menu.menuAction()):
            menu.removeAction(a)
            menu.insertAction(first, a)
        self.save_action.setShortcut("Ctrl+Shift+S")
        self._fill_recent()

    def recent(self) -> list[str]:
        v = self.window.settings.q.value(RECENT_KEY, [])
        v = [v] if isinstance(v, str) else v
        return [str(x) for x in v or [] if x]

    def _add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent() if p != path]
        self.window.settings.q.setValue(RECENT_KEY, items[:MAX_RECENT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent():
            self.recent_menu.addAction(p, lambda p=p: self.open(p))
        self.recent_menu.setEnabled(bool(self.recent()))

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save session", f"workspace{workspace.SUFFIX}", FILTER)
        if path:
            self.save(path if path.endswith(workspace.SUFFIX) else path + workspace.SUFFIX)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", "", FILTER)
        if path:
            self.open(path)

    # ---- save / open ---------------------------------------------------------------------------
    def save(self, path: str):
        path = str(Path(path).expanduser().resolve())
        manifest, results = gather(self.window)

        def done(_) -> None:
            self._add_recent(path)
            self.session.emit("status", f"saved session to {path}")
            self.saved.emit(path)

        return self.session.client.submit(Request(f"Save session to {path}",
                                                  lambda: workspace.save_steps(manifest, results, path),
                                                  on_result=done))

    def open(self, path: str):
        """Read and check on the engine thread, then restore. A bad file fails this job with one
        message (Jobs dock, log, dialog) and changes nothing."""
        path = str(Path(path).expanduser().resolve())
        device = self.session.device
        return self.session.client.submit(Request(f"Open session {path}", lambda: _load_for_restore(path, device),
                                                  on_result=lambda out: self._restore(path, *out)))

    def _restore(self, path: str, wsp, problems, devices) -> None:
        if self.restore is not None:
            self.restore.stop()
        self.restore = Restore(self, path, wsp, problems, devices)
        self._add_recent(path)
        self.restore.start()


class Restore:
    """Open what the session names (engine thread), then apply the rest; one step at a time."""

    def __init__(self, owner: Sessions, path: str, wsp, problems, devices):
        self.owner, self.window, self.session = owner, owner.window, owner.session
        self.path, self.m, self.results = path, wsp.manifest, wsp.results
        self.problems = list(problems)
        self.notes: list[str] = []
        self.failed: list[str] = []     # 'panel: key' of values that could not be set
        self.devices = devices
        self.handles: list = []
        self.phase = "open"
        self.done = False
        self.dialog: QMessageBox | None = None
        self._unsubscribe = None
        self._timer = QTimer(owner)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        m, s = self.m, self.session
        want = m.get("device") or "cpu"
        if want != s.device:
            if want == "cpu" or (self.devices and want in self.devices):
                self._set_device(want)
            else:
                self.notes.append(f"device {want}: not available on this computer; using {s.device}.")
        for d in sorted(m.get("datasets", []), key=lambda d: bool(d.get("current"))):   # current last
            if "problem" not in d:
                self.handles.append(s.open_dataset(d["spec"], select=bool(d.get("current"))))
        ck = m.get("checkpoint")
        if ck and "problem" not in ck and (s.checkpoint is None or s.checkpoint.spec != _choice(ck)):
            self.handles.append(s.open_checkpoint(_choice(ck)))
        for p in self.problems:
            log.warning("session %s: %s", self.path, p.text())
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    def _set_device(self, name: str) -> None:
        box = self.window.device_box
        box.blockSignals(True)
        if box.findText(name) < 0:
            box.addItem(name)
        box.setCurrentText(name)
        box.blockSignals(False)
        self.window.settings.set("model/device", name)
        self.session.set_device(name)

    def _poll(self) -> None:
        if any(h is not None and h.active for h in self.handles):
            return
        self.handles = []
        if self.phase == "open":
            self.phase = "sample"
            self.handles.append(self._select_sample())
        elif self.phase == "sample":
            self._timer.stop()
            self.phase = "done"
            self._apply()

    def _select_sample(self):
        sample, s = self.m.get("sample"), self.session
        if not sample:
            return None
        info = next((d for d in s.datasets.values() if d.spec == sample["dataset"]), None)
        if info is None:
            return None
        if s.current is None or s.current.key != info.key:
            s.set_dataset(info.key)
        try:
            count = info.split(sample["split"]).count
        except Exception:  # noqa: BLE001 - a split the dataset no longer has: keep the first sample
            self.notes.append(f"sample {sample['split']}/{sample['index']}: no such split in {info.spec}.")
            return None
        if not 0 <= int(sample["index"]) < count:
            self.notes.append(f"sample {sample['split']}/{sample['index']}: {info.spec} has {count} samples there.")
            return None
        cur = s.sample
        if cur is not None and cur.dataset.key == info.key and cur.split == sample["split"] \
                and cur.index == int(sample["index"]):
            return None
        return s.select_sample(sample["split"], int(sample["index"]))

    def _apply(self) -> None:
        win, s = self.window, self.session
        history = getattr(win, "extensions", {}).get("history")
        with (history.paused() if history is not None else nullcontext()):
            self.failed = failed = ws.apply_panel_values(win.method_panels, self.m.get("panels", {}))
            for key in failed:   # e.g. a combo box listing layers that a re-run has not drawn yet
                log.info("session: panel value %s could not be restored", key)
            s.results.clear()
            for title, res in self.results:
                s.add_result(title, res, show=False)
            self._apply_layers(self.m.get("layers", {}))
            if self.m.get("view"):
                ws.apply_view_state(win, self.m["view"])
        if history is not None:
            history.clear()   # undo steps from before the restore would apply to another workspace
        if self.problems or self.notes:
            self._tell()
        self.done = True
        s.emit("status", f"restored session {self.path}"
               + (f" ({len(self.problems)} file(s) not opened)" if self.problems else ""))
        self.owner.restored.emit(self)

    def _apply_layers(self, visible: dict) -> None:
        scene = self.session.scene
        pending = dict(visible)
        for name in [n for n in pending if n in scene]:
            scene.set_style(name, visible=pending.pop(name))
        if not pending:
            return

        def added(event: str, name: str) -> None:
            if event == "added" and name in pending:
                scene.set_style(name, visible=pending.pop(name))
                if not pending:
                    self.stop()

        self._unsubscribe = scene.subscribe(added)
        QTimer.singleShot(LAYER_WAIT_MS, self.stop)

    def _tell(self) -> None:
        """One dialog (and the log) saying which files could not be opened and why."""
        n = len(self.problems)
        box = self.window.show_error(
            "Session opened without some files",
            (f"{n} file{'s' if n != 1 else ''} of this session moved or changed and "
             f"{'were' if n != 1 else 'was'} not opened." if n else "The session was opened with changes."))
        lines = [f"• {p.what.capitalize()}, {p.reason}:\n      {p.path}" for p in self.problems]
        lines += [f"• {t}" for t in self.notes]
        box.setInformativeText("\n".join(lines) + f"\n\nEverything else in {Path(self.path).name} is restored. "
                               "Open the files from their new place (File > Open), then save the session again.")
        # long paths fit on one line where possible (the names are QMessageBox's own labels)
        box.setStyleSheet("QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel { min-width: 600px; }")
        self.dialog = box
        for t in self.notes:
            log.warning("session %s: %s", self.path, t)


def install(window) -> Sessions:
    sessions = Sessions(window)
    sessions.add_actions(window.file_menu)
    return sessions
