"""Lying headers under a memory limit: each case runs in a fresh process whose address space may
grow by at most 1.5 GiB beyond what the imports took (RLIMIT_AS). A reader that trusted the
header would need many GiB and die with MemoryError; a hardened one refuses with a DataError or
CheckpointError and its peak resident memory stays small."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3 << 29          # 1.5 GiB of extra address space

RUNNER = textwrap.dedent("""
    import json, resource, sys
    import numpy, h5py, torch
    from engine.core.errors import EngineError
    from engine.data.open import open_dataset
    from engine.data.files import read_geometry
    from engine.models.checkpoints import load_checkpoint

    def vm():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    base = vm()
    resource.setrlimit(resource.RLIMIT_AS, (base + {limit}, base + {limit}))
    kind, path = sys.argv[1], sys.argv[2]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        {{"dataset": open_dataset, "geometry": read_geometry, "checkpoint": load_checkpoint}}[kind](path)
        out = "accepted"
    except EngineError as e:
        out = "refused: " + str(e)
    except MemoryError:
        out = "MemoryError"
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    print(json.dumps({{"outcome": out, "peak_growth_kib": grown}}))
""").format(limit=LIMIT)


def run_limited(kind: str, path: Path) -> dict:
    p = subprocess.run([sys.executable, "-c", RUNNER, kind, str(path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _h5_lying_labels(p: Path):
    with h5py.File(p, "w") as f:
        f["data"] = np.ones((4, 8, 3), "f4")
        f.create_dataset("label", shape=(1 << 33,), dtype="i8", chunks=(1 << 16,))   # 64 GiB declared


def _h5_big_label(p: Path):
    with h5py.File(p, "w") as f:
        f["data"] = np.ones((2, 8, 3), "f4")
        f["label"] = np.array([0, 2**40], np.int64)   # a 2**40-entry class table without names


def _npy(p: Path):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (1 << 28, 64, 3)})
    p.write_bytes(buf.getvalue() + b"\0" * 64)


def _npz(p: Path):
    import io, zipfile
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (1 << 26, 64, 3)})
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("points.npy", buf.getvalue() + b"\0" * 64)


def _pcd(p: Path):
    n = 300_000_000   # 3.6 GB declared (the size word is 32 bits)
    head = (f"FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH {n}\nHEIGHT 1\nPOINTS {n}\n"
            f"DATA binary_compressed\n").encode()
    p.write_bytes(head + struct.pack("<II", 16, 12 * n) + b"\0" * 16)


def _ply(p: Path):
    p.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                  b"property float z\nelement face 4000000000\nproperty list uchar int vertex_indices\nend_header\n"
                  + np.zeros(9, "<f4").tobytes() + (b"\x03" + np.arange(3, dtype="<i4").tobytes()) * 2)


def _pth(p: Path):
    torch.save({"fc3.weight": torch.zeros(1).expand(1 << 33)}, p)


def _meta(p: Path):
    from safetensors.torch import save_file
    meta = {"format": "pointlens-checkpoint/1", "model": "pointnet",
            "config": {"num_classes": 1 << 34, "width": 1.0}, "classes": None}
    save_file({"fc3.weight": torch.zeros(2, 2)}, str(p), metadata={"pointlens": json.dumps(meta)})


CASES = [("dataset", "labels.h5", _h5_lying_labels), ("dataset", "big.h5", _h5_big_label),
         ("dataset", "c.npy", _npy), ("dataset", "c.npz", _npz), ("geometry", "c.pcd", _pcd),
         ("geometry", "c.ply", _ply), ("checkpoint", "m.pth", _pth), ("checkpoint", "m.safetensors", _meta)]


@pytest.mark.parametrize("kind,name,make", CASES, ids=[c[1] for c in CASES])
def test_lying_header_is_refused_within_the_memory_limit(tmp_path, kind, name, make):
    path = tmp_path / name
    make(path)
    r = run_limited(kind, path)
    assert r["outcome"].startswith("refused: "), r
    assert r["peak_growth_kib"] < 200 * 1024, r       # far below what the header declares
