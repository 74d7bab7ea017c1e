"""The session file (Qt-free): what a saved workspace holds, writing it atomically, reading it
back, and checking that the files it names are still where they were and unchanged.

Format: ONE HDF5 file (``.plsession``). HDF5 because results already are HDF5 arrays
(``engine.results``) and h5py is a dependency: result arrays are stored as native datasets
(no pickling, no base64 in JSON, readable by any HDF5 tool), while everything small (datasets,
checkpoint, panel values, layout, cameras, layer visibility) is one JSON ``manifest``
attribute. Layout::

    /                 attrs: format = "pointlens-session/1", manifest = JSON (see ``MANIFEST_KEYS``)
    /results/000      attrs: title, kind, metrics, params, provenance (JSON); one dataset per array

Writes go through ``engine.atomic.atomic_path`` (temp file beside the target, fsync, rename):
a kill mid-write leaves the previous session file intact. ``save_steps`` is a generator that
yields ``Progress`` between arrays, so the GUI runs it on the engine thread like any job.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from engine import atomic_path
from engine import DataError
from engine import drive
from engine import read_result_group, to_json, write_result_group
from engine import Progress, Result

FORMAT = "pointlens-session/1"
SUFFIX = ".plsession"
MANIFEST_KEYS = ("datasets", "sample", "checkpoint", "device", "panels", "view", "layers")


@dataclass
class Workspace:
    """A saved workspace. ``manifest``: plain JSON values (see the module doc);
    ``results``: (title, Result) pairs in the order the session kept them."""

    manifest: dict = field(default_factory=dict)
    results: list[tuple[str, Result]] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """A file the session names that cannot be used as saved: ``what`` is 'dataset' or
    'checkpoint', ``why`` is 'missing' or 'changed'."""

    what: str
    spec: str
    path: str
    why: str

    @property
    def reason(self) -> str:
        if self.why == "missing":
            return "not found (moved or deleted)"
        return "changed since the session was saved (fingerprint differs)"

    def text(self) -> str:
        return f"{self.what} {self.path}: {self.reason}; not opened."


# ---- where files are and what they hold (engine thread: fingerprints read files) ----------------

def dataset_path(spec: str) -> Path | None:
    """The file or folder a dataset spec names; None for the built-in dataset."""
    if spec == "builtin" or spec.startswith("builtin:"):
        return None
    return Path(spec).expanduser().resolve()


def checkpoint_path(spec: str) -> Path | None:
    """The file a checkpoint spec names (``demo:<key>`` -> the bundled file); None if unknown."""
    if spec.startswith("demo:"):
        from engine import demo_path

        return demo_path(spec[5:])
    return Path(spec).expanduser().resolve()


def _fingerprint(what: str, path: Path) -> str:
    # The same quick fingerprints the viewer shows in provenance (size + first/last MiB).
    from engine import file_fingerprint, path_fingerprint

    return path_fingerprint(path) if what == "dataset" else file_fingerprint(path, full=False)


def describe_file(what: str, spec: str, session_dir: Path | None = None) -> dict:
    """Spec, absolute path, path relative to the session file, and the file's fingerprint now."""
    path = dataset_path(spec) if what == "dataset" else checkpoint_path(spec)
    out = {"spec": spec, "path": "", "relpath": "", "file_fingerprint": ""}
    if path is None:
        return out
    out["path"] = str(path)
    if session_dir is not None:
        try:
            out["relpath"] = os.path.relpath(path, session_dir)
        except ValueError:   # another drive (Windows)
            pass
    if path.exists():
        out["file_fingerprint"] = _fingerprint(what, path)
    return out


def check_file(what: str, entry: dict, session_dir: Path) -> tuple[str, Problem | None]:
    """(spec to open, problem or None). A file missing at its saved path but found, unchanged,
    at the same place relative to the session file (the whole folder moved) is used there."""
    spec, saved = entry["spec"], entry.get("file_fingerprint", "")
    if not entry.get("path") or (spec.startswith("demo:") and not saved):
        return spec, None
    path = Path(entry["path"])
    if not path.exists() and entry.get("relpath"):
        moved = (session_dir / entry["relpath"]).resolve()
        if moved.exists() and (not saved or _fingerprint(what, moved) == saved):
            return str(moved), None
    if not path.exists():
        return spec, Problem(what, spec, str(path), "missing")
    if saved and _fingerprint(what, path) != saved:
        return spec, Problem(what, spec, str(path), "changed")
    # a relative spec meant the working folder of the saving app: open the absolute path
    relative = not spec.startswith("demo:") and not Path(spec).expanduser().is_absolute()
    return (str(path) if relative else spec), None


def check(ws: Workspace, session_file: str | os.PathLike) -> list[Problem]:
    """Check every dataset and the checkpoint; rewrite specs of files found after a move.
    Entries with a problem get ``"problem": text`` and are not to be opened."""
    session_dir = Path(session_file).resolve().parent
    problems = []
    entries = [("dataset", d) for d in ws.manifest.get("datasets", [])]
    if ws.manifest.get("checkpoint"):
        entries.append(("checkpoint", ws.manifest["checkpoint"]))
    for what, entry in entries:
        spec, problem = check_file(what, entry, session_dir)
        if problem is not None:
            entry["problem"] = problem.text()
            problems.append(problem)
        elif spec != entry["spec"]:
            sample = ws.manifest.get("sample") or {}
            if what == "dataset" and sample.get("dataset") == entry["spec"]:
                sample["dataset"] = spec
            entry["spec"] = spec
    return problems


# ---- writing --------------------------------------------------------------------------------------

def save_steps(manifest: dict, results: list[tuple[str, Result]], path: str | os.PathLike,
               describe: bool = True) -> Iterator[Progress]:
    """Generator: write a session file atomically, yielding Progress between arrays.

    ``describe``: first record where each dataset / the checkpoint is and its fingerprint
    (reads the files, so this runs on the engine thread)."""
    import h5py

    path = Path(path)
    manifest = json.loads(json.dumps(manifest))   # a private copy, and proof that it is JSON
    if describe:
        session_dir = path.resolve().parent
        manifest["datasets"] = [{**d, **describe_file("dataset", d["spec"], session_dir)}
                                for d in manifest.get("datasets", [])]
        if manifest.get("checkpoint"):
            c = manifest["checkpoint"]
            manifest["checkpoint"] = {**c, **describe_file("checkpoint", c["spec"], session_dir)}
    manifest["saved"] = time.strftime("%Y-%m-%d %H:%M:%S")
    manifest["results"] = [title for title, _ in results]
    total = 1 + sum(len(r.arrays) for _, r in results)
    done = 0
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["manifest"] = to_json(manifest)
            done += 1
            yield Progress(done, total, "session settings written")
            group = f.create_group("results")
            for i, (title, res) in enumerate(results):
                g = group.create_group(f"{i:03d}")
                g.attrs["title"] = title
                for name in write_result_group(g, res):
                    done += 1
                    yield Progress(done, total, f"result {i + 1}/{len(results)}: {name}")
    return str(path)


def save(manifest: dict, results: list[tuple[str, Result]], path: str | os.PathLike, describe: bool = True) -> str:
    return drive(save_steps(manifest, results, path, describe))


# ---- reading --------------------------------------------------------------------------------------

def _not_a_session(path, why: str) -> DataError:
    return DataError(f"{path}: not a PointLens session file ({why}).",
                     hint="Open a .plsession file saved by File > Save session; nothing open was changed.")


def load(path: str | os.PathLike) -> Workspace:
    """Read a session file. A missing, corrupt or foreign file raises one DataError naming it;
    a session that links or stores data outside itself is refused (engine.open_h5)."""
    from engine import open_h5

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such session file.", hint="Check the path (File > Open session).")
    try:
        opened = open_h5(path, "session")
    except DataError as e:
        if "not a readable HDF5 file" in str(e):
            raise _not_a_session(path, "not a readable HDF5 file: truncated, damaged or another format") from None
        raise                       # outside links, special files, permissions: said as they are
    try:
        with opened as f:
            if f.attrs.get("format") != FORMAT:
                found = f.attrs.get("format")
                raise _not_a_session(path, f"its format is '{found}'" if found is not None
                                     else f"no '{FORMAT}' marker")
            manifest = json.loads(f.attrs["manifest"])
            results = []
            group = f.get("results")
            for key in sorted(group.keys()) if group is not None else []:
                g = group[key]
                results.append((str(g.attrs["title"]), read_result_group(g)))
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise _not_a_session(path, f"unreadable or damaged: {type(e).__name__}: {e}") from None
    if not isinstance(manifest, dict):
        raise _not_a_session(path, "its manifest is not a table of settings")
    return Workspace(manifest, results)


def load_and_check(path: str | os.PathLike) -> tuple[Workspace, list[Problem]]:
    """Engine thread: read the file and check the files it names (reads them for fingerprints)."""
    ws = load(path)
    return ws, check(ws, path)


def same_result(a: Result, b: Result) -> bool:
    """Equal kind, arrays, metrics, params and provenance (after a JSON round trip)."""
    if a.kind != b.kind or set(a.arrays) != set(b.arrays):
        return False
    for k in a.arrays:
        x, y = np.asarray(a.arrays[k]), np.asarray(b.arrays[k])
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    plain = lambda d: json.loads(to_json(d))  # noqa: E731 - tuples become lists, NaN null
    return all(plain(getattr(a, n)) == plain(getattr(b, n)) for n in ("metrics", "params", "provenance"))
