"""Per-point colours and scalars kept by the PLY, PCD and ASCII readers, and the ASCII column
layout: given (--columns), read from a header line, or guessed with the guess reported."""
from __future__ import annotations

import json

import numpy as np
import pytest

import engine.cli as cli
from engine.core.errors import DataError
from engine.data import Loading, open_dataset
from engine.data.columns import guess_columns, header_names, parse_columns
from engine.data.files import read_geometry
from engine.data.pointfields import to_uint8_colors, unpack_rgb

RGB = np.array([[255, 0, 0], [0, 128, 0], [0, 0, 7], [12, 34, 56]], np.uint8)
XYZ = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float64)


def _ply_with_colour(path, fmt):
    """A vertex-only PLY as the spec lays it out: uchar red/green/blue, a float intensity and a
    property this reader has never heard of ('quality'), which must come back as a field."""
    inten = np.array([0.5, 0.25, 1.0, 0.0], np.float32)
    qual = np.array([7, 8, 9, 10], np.int16)
    head = (f"ply\nformat {fmt} 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
            "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty float intensity\n"
            "property short quality\nend_header\n").encode()
    if fmt == "ascii":
        body = "".join(f"{x:g} {y:g} {z:g} {r} {g} {b} {i:g} {q}\n"
                       for (x, y, z), (r, g, b), i, q in zip(XYZ, RGB, inten, qual)).encode()
    else:
        dt = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1"),
                       ("i", "<f4"), ("q", "<i2")])
        rec = np.zeros(4, dt)
        for k, c in enumerate("xyz"):
            rec[c] = XYZ[:, k]
        for k, c in enumerate("rgb"):
            rec[c] = RGB[:, k]
        rec["i"], rec["q"] = inten, qual
        body = rec.tobytes()
    path.write_bytes(head + body)
    return path, inten, qual


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian"])
def test_ply_keeps_colours_and_every_other_vertex_property(tmp_path, fmt):
    p, inten, qual = _ply_with_colour(tmp_path / "c.ply", fmt)
    g = read_geometry(p)
    assert g.colors.dtype == np.uint8
    np.testing.assert_array_equal(g.colors, RGB)
    assert sorted(g.fields) == ["intensity", "quality"]
    np.testing.assert_allclose(g.fields["intensity"], inten)
    np.testing.assert_array_equal(g.fields["quality"], qual)


def _pcd(path, fmt):
    """PCD with PCL's packed colour: rgb is one 4-byte field holding 0x00RRGGBB (typed U in the
    ascii file, F in the binary one, as PCL writes both), plus 'intensity' and a COUNT 2 field."""
    packed = (RGB[:, 0].astype(np.uint32) << 16) | (RGB[:, 1].astype(np.uint32) << 8) | RGB[:, 2]
    inten = np.array([3.0, 4.0, 5.0, 6.0], np.float32)
    head = ["VERSION 0.7", "FIELDS x y z rgb intensity uv", "SIZE 4 4 4 4 4 4",
            f"TYPE F F F {'U' if fmt == 'ascii' else 'F'} F F", "COUNT 1 1 1 1 1 2", "WIDTH 4", "HEIGHT 1",
            "VIEWPOINT 0 0 0 1 0 0 0", "POINTS 4", f"DATA {fmt}"]
    uv = np.array([[0.1, 0.2]] * 4, np.float32)
    if fmt == "ascii":
        body = "".join(f"{x:g} {y:g} {z:g} {c} {i:g} {a:g} {b:g}\n"
                       for (x, y, z), c, i, (a, b) in zip(XYZ, packed, inten, uv)).encode()
    else:
        dt = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<u4"), ("intensity", "<f4"), ("uv", "<f4", (2,))])
        rec = np.zeros(4, dt)
        for k, c in enumerate("xyz"):
            rec[c] = XYZ[:, k]
        rec["rgb"], rec["intensity"], rec["uv"] = packed, inten, uv
        body = rec.tobytes()
    path.write_bytes(("\n".join(head) + "\n").encode() + body)
    return path, inten


@pytest.mark.parametrize("fmt", ["ascii", "binary"])
def test_pcd_unpacks_rgb_and_keeps_other_fields(tmp_path, fmt):
    p, inten = _pcd(tmp_path / "c.pcd", fmt)
    g = read_geometry(p)
    np.testing.assert_array_equal(g.colors, RGB)
    np.testing.assert_allclose(g.fields["intensity"], inten)
    np.testing.assert_allclose(g.fields["uv_1"], 0.2, rtol=1e-6)   # COUNT 2 -> uv_0, uv_1
    assert "rgb" not in g.fields


def test_colour_conventions():
    np.testing.assert_array_equal(to_uint8_colors(np.array([[0.0, 0.5, 1.0]])), [[0, 128, 255]])
    np.testing.assert_array_equal(to_uint8_colors(np.array([[0, 255, 65535]], np.uint16)), [[0, 1, 255]])
    np.testing.assert_array_equal(to_uint8_colors(np.array([[0, 7, 200]], np.int32)), [[0, 7, 200]])
    # 0x00FF8001 read as float32 bits, as PCL stores it
    f = np.array([0x00FF8001], np.uint32).view(np.float32)
    np.testing.assert_array_equal(unpack_rgb(f), [[255, 128, 1]])


def test_colours_and_fields_reach_the_sample(tmp_path):
    p, inten, _ = _ply_with_colour(tmp_path / "c.ply", "binary_little_endian")
    cloud = open_dataset(p, Loading(points=2, sampling="first")).split("all")[0]
    np.testing.assert_array_equal(cloud.colors, RGB[:2])
    np.testing.assert_allclose(cloud.fields["intensity"], inten[:2])


# ---- ASCII tables -------------------------------------------------------------------------------

def _table(path, rows, header=None, sep=" "):
    lines = ([header] if header else []) + [sep.join(f"{v:g}" for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_s3dis_style_xyzrgb_is_colour_not_normals(tmp_path):
    rows = np.concatenate([XYZ, RGB], 1)
    g = read_geometry(_table(tmp_path / "room.txt", rows))
    assert g.normals is None
    np.testing.assert_array_equal(g.colors, RGB)
    assert g.notes and "guessed" in g.notes[0] and "x y z r g b" in g.notes[0]


def test_xyz_intensity_rgb_is_guessed(tmp_path):
    rows = np.concatenate([XYZ, [[0.5], [0.25], [0.75], [0.125]], RGB], 1)
    g = read_geometry(_table(tmp_path / "scan.xyz", rows))
    assert g.normals is None and g.part_ids is None
    np.testing.assert_array_equal(g.colors, RGB)
    np.testing.assert_allclose(g.fields["intensity"], [0.5, 0.25, 0.75, 0.125])


def test_six_columns_within_unit_range_stay_normals(tmp_path):
    nrm = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0.6, 0.8, 0]])
    g = read_geometry(_table(tmp_path / "kitten.xyz", np.concatenate([XYZ, nrm], 1)))
    assert g.colors is None
    np.testing.assert_allclose(g.normals, nrm)
    assert "normals" in g.notes[0]


@pytest.mark.parametrize("header,sep", [("//X Y Z R G B Intensity", " "), ("x,y,z,red,green,blue,intensity", ","),
                                        ("# x y z r g b i", " ")])
def test_header_names_the_columns(tmp_path, header, sep):
    rows = np.concatenate([XYZ, RGB, [[1], [2], [3], [4]]], 1)
    g = read_geometry(_table(tmp_path / "h.csv", rows, header, sep))
    np.testing.assert_array_equal(g.colors, RGB)
    np.testing.assert_array_equal(g.fields["intensity"], [1, 2, 3, 4])
    assert g.part_ids is None and g.notes == ["columns x y z r g b intensity (from the header line)"]


def test_given_layout_wins_over_the_guess(tmp_path):
    # 0..1 colours would be guessed as normals; the layout says they are colours, and skips column 4
    rows = np.concatenate([XYZ, [[9], [9], [9], [9]], RGB / 255.0, [[0], [1], [1], [2]]], 1)
    p = _table(tmp_path / "t.txt", rows)
    g = read_geometry(p, "x,y,z,_,r,g,b,label")
    np.testing.assert_array_equal(g.colors, RGB)
    np.testing.assert_array_equal(g.part_ids, [0, 1, 1, 2])
    assert g.normals is None and g.fields == {} and g.notes == []
    with pytest.raises(DataError, match="names 7 columns.*has 8"):
        read_geometry(p, "x,y,z,r,g,b,label")


def test_layout_names_are_checked():
    assert parse_columns("X Y Z Red Green Blue class") == ["x", "y", "z", "r", "g", "b", "label"]
    for bad, msg in [("x,y", "x y of x y z"), ("x,y,z,r,g", "r g of r g b"), ("x,y,z,x", "named twice"),
                     ("x,y,z,1", "not a name")]:
        with pytest.raises(DataError, match=msg):
            parse_columns(bad)
    assert header_names("1 2 3") is None and header_names("# comment about it") is None


def test_guess_rules_by_column_count():
    t = lambda *rows: np.array(rows, float)   # noqa: E731
    assert guess_columns(t([0, 0, 0, 5]))[0] == ["x", "y", "z", "intensity"]
    assert guess_columns(t([0, 0, 0, 0.1, 0.2, 0.3, 2]))[0][-1] == "label"      # PointNet part txt
    assert guess_columns(t([0, 0, 0, 10, 20, 30, 2]))[0] == ["x", "y", "z", "r", "g", "b", "label"]


def test_cli_columns_option_reaches_the_reader(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ["data"])
    p = _table(tmp_path / "t.txt", np.concatenate([XYZ, RGB / 255.0], 1))   # 0..1 colours: guessed as normals
    assert cli.main(["data", "info", str(p), "--json", "--columns", "x,y,z,r,g,b"]) == 0
    info = json.loads(capsys.readouterr().out)["info"]
    assert info["has_colors"] and not info["has_normals"]
    assert cli.main(["data", "info", str(p), "--json"]) == 0             # the layout ended with the command
    assert json.loads(capsys.readouterr().out)["info"]["has_normals"]
    assert cli.main(["data", "info", str(p), "--columns", "x,y"]) == 2
    assert "name all three" in capsys.readouterr().err
