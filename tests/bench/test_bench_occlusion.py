"""Occlusion saliency with the demo PointNet and the default parameters: does deleting points in
its order hurt the prediction faster than a random order or the gradient saliency's order?
(`make bench`; prints the figures the occlusion note quotes.)"""
from __future__ import annotations

import numpy as np

from engine import Job, run
from engine.data.open import open_sample


def test_bench_occlusion_ranks_points_better_than_random():
    drops, area = [], {"occlusion": [], "saliency": [], "random": []}
    for i in range(0, 300, 15):                      # 20 built-in test clouds, every class
        cloud, _ = open_sample("builtin", i, "test", 1024)
        occ = run(Job("occlusion", {"points": cloud.points}, model="demo:pointnet"))
        sal = run(Job("inspect", {"points": cloud.points}, model="demo:pointnet")).arrays["saliency"]
        drops.append(occ.metrics["largest_drop"])
        for name, order in (("occlusion", occ.arrays["importance"]), ("saliency", sal)):
            curve = run(Job("deletion-curve", {"points": cloud.points, "scalar": order},
                            {"steps": 20, "random_orders": 5}, model="demo:pointnet"))
            area[name].append(curve.metrics["area_scalar"])
            if name == "occlusion":
                area["random"].append(curve.metrics["area_random"])
    mean = {k: float(np.mean(v)) for k, v in area.items()}
    wins = int(np.sum(np.array(area["occlusion"]) < np.array(area["random"])))
    print(f"\nocclusion (demo:pointnet, defaults, 20 clouds): largest drop mean {np.mean(drops):.3f}; "
          f"deletion-curve area by occlusion order {mean['occlusion']:.3f}, by gradient saliency "
          f"{mean['saliency']:.3f}, random {mean['random']:.3f}; occlusion below random on {wins}/20")
    assert mean["occlusion"] < mean["random"]
