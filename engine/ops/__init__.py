"""Geometry kernels shared by the methods (torch, batched, CPU or GPU)."""
from engine.ops.geometry import chamfer_l2, farthest_point_sample, gather_points, knn, pairwise_sq_dist  # noqa: F401
