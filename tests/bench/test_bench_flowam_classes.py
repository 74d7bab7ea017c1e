"""Flow AM with the demo PointNet and the panel's defaults, every built-in class: does each
explanation lie nearest to real objects of its own class (`nearest_real_class`)?
(`make bench`; prints the count the Flow AM note quotes: 8 of 10 at lr 0.0005, 5 of 10 at 0.002.)"""
from __future__ import annotations

from engine import Job, run
from engine.data.open import open_dataset


def test_bench_flowam_explanations_look_like_their_class():
    ds = open_dataset("builtin")
    rows, hits = [], 0
    for name in ds.classes:
        m = run(Job("flowam", {"dataset": ds, "target": name}, model="demo:pointnet")).metrics
        hits += bool(m["looks_like_target"])
        rows.append(f"{name}: nearest {m['nearest_real_class']} (own {m['chamfer_by_class'][name]:.4f}, "
                    f"softmax {m['softmax']:.3f})")
    print("\nFlow AM (demo:pointnet, defaults):\n  " + "\n  ".join(rows)
          + f"\n  {hits} of {len(ds.classes)} explanations lie nearest to real objects of their own class")
    assert hits > len(ds.classes) // 2
