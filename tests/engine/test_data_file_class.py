"""A lone file's class comes from its class folder, not from its file name."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.file_class import class_of_file
from engine.data.open import open_dataset

from .data_makers import CUBE_QUADS, CUBE_V, quads_to_tris, write_off


@pytest.mark.parametrize("path, expected", [
    ("ModelNet40/chair/test/chair_0941.off", "chair"),        # split folder: the one above it
    ("ModelNet40/chair/chair_0941.off", "chair"),
    ("shapes/night_stand/ns_7.off", "night_stand"),            # a known class, whatever the file name
    ("mugs/mug/mug_0001.off", "mug"),                          # unknown class, but the file is named after it
    ("Downloads/scan_03.ply", "scan_03"),                      # a folder that names no class
    ("chair_0941.off", "chair_0941"),
    ("x/test/chair_0941.off", "chair_0941"),                   # split folder under a non-class folder
])
def test_class_of_file(path, expected):
    assert class_of_file(Path(path)) == expected


def test_an_opened_file_in_a_class_folder_has_the_folders_class(tmp_path):
    folder = tmp_path / "chair" / "test"
    folder.mkdir(parents=True)
    path = write_off(folder / "chair_0941.off", CUBE_V, quads_to_tris(CUBE_QUADS))
    ds = open_dataset(str(path))
    assert ds.classes == ["chair"]
