"""The class of a lone point-cloud file, read from where it sits.

ModelNet and most hand-made collections keep one folder per class (``chair/chair_0941.off``,
``ModelNet40/chair/test/chair_0941.off``). Opened on its own, such a file belongs to its folder's
class, not to a class named after the file ("chair_0941"). The folder counts when it names a
class of the built-in or ModelNet40 lists, or when the file's name starts with the
folder's (``mug/mug_0001.off``); a split folder (train/test/val) defers to the one above it.
Anything else ("Downloads/scan.ply") keeps the file stem.
"""
from __future__ import annotations

from pathlib import Path

from engine.data.builtin_shapes import CLASSES as BUILTIN_CLASSES
from engine.data.modelnet40c import MODELNET40_CLASSES

KNOWN_CLASSES = frozenset(c.lower() for c in (*BUILTIN_CLASSES, *MODELNET40_CLASSES))
SPLIT_FOLDERS = frozenset({"train", "test", "val", "valid", "validation"})


def _names_class(folder: str, stem: str) -> bool:
    f = folder.lower()
    return f in KNOWN_CLASSES or (len(f) > 1 and stem.lower().startswith(f))


def class_of_file(path: Path) -> str:
    """The folder's name when it names the file's class (see the module text), else the stem."""
    path = Path(path)
    parent = path.parent
    if parent.name.lower() in SPLIT_FOLDERS:
        parent = parent.parent
    if parent.name and _names_class(parent.name, path.stem):
        return parent.name
    return path.stem
