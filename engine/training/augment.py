"""Per-cloud training augmentations, as the public PointNet trainers do them.

Names (comma-separated in ``--augmentations``):
- ``jitter``: add N(0, 0.01^2) clipped to +-0.05 to every coordinate (PointNet provider);
- ``rotate-up``: a random rotation about the up axis (fxia22 rotates about y; the built-in
  dataset is z-up, so the axis is a setting);
- ``rotate-so3``: a uniformly random 3D rotation;
- ``scale``: anisotropic scale, each axis by U(0.8, 1.25) (yanx27's range, per axis);
- ``shift``: translate each cloud by U(-0.1, 0.1) per axis (yanx27);
- ``dropout``: yanx27's random point dropout: ratio ~ U(0, 0.875), each point dropped with that
  probability and overwritten by the cloud's first point (keeps N fixed).

Every draw comes from the ``torch.Generator`` passed in (on the CPU), so a seeded run repeats.
"""
from __future__ import annotations

import math

import torch

from engine.core.errors import ParameterError

NAMES = ("jitter", "rotate-up", "rotate-so3", "scale", "shift", "dropout")
AXES = {"x": 0, "y": 1, "z": 2}


def parse_names(text: str | None) -> tuple[str, ...]:
    """'scale, shift' -> ('scale', 'shift'); '' or 'none' -> (); unknown names are an error."""
    if text is None:
        return ()
    names = tuple(n.strip().lower() for n in str(text).split(",") if n.strip())
    if names in ((), ("none",)):
        return ()
    bad = [n for n in names if n not in NAMES]
    if bad:
        raise ParameterError(f"augmentation {', '.join(repr(b) for b in bad)} is unknown.",
                             hint=f"Use a comma list of: {', '.join(NAMES)} (or none).")
    return names


def _rotation_about(axis: int, angles: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotations about one axis, for row vectors (p' = p @ R)."""
    c, s = torch.cos(angles), torch.sin(angles)
    r = torch.zeros(angles.shape[0], 3, 3, dtype=angles.dtype)
    i, j = [a for a in range(3) if a != axis]
    r[:, axis, axis] = 1
    r[:, i, i], r[:, i, j], r[:, j, i], r[:, j, j] = c, s, -s, c
    return r


def random_rotations(b: int, generator: torch.Generator) -> torch.Tensor:
    """(B, 3, 3) rotations uniform on SO(3): QR of a Gaussian matrix with the sign fixed."""
    g = torch.randn(b, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)
    det = torch.linalg.det(q)
    q[:, :, 0] *= det.sign().unsqueeze(1)       # reflections -> rotations
    return q


class PointAugment:
    """Apply the named augmentations, in the order given, to a batch (B, N, 3)."""

    def __init__(self, names: tuple[str, ...] | str, up_axis: str = "z"):
        self.names = parse_names(names) if isinstance(names, str) else tuple(names)
        if up_axis not in AXES:
            raise ParameterError(f"up axis '{up_axis}' is not x, y or z.")
        self.up = AXES[up_axis]

    def __bool__(self) -> bool:
        return bool(self.names)

    def __call__(self, points: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if not self.names:
            return points
        # draw on the CPU (a CPU generator), compute where the points are
        dev, dt = points.device, points.dtype
        x = points
        b, n, _ = x.shape
        for name in self.names:
            if name == "jitter":
                noise = torch.randn(b, n, 3, generator=generator).mul_(0.01).clamp_(-0.05, 0.05)
                x = x + noise.to(dev, dt)
            elif name == "rotate-up":
                ang = torch.rand(b, generator=generator, dtype=torch.float64) * (2 * math.pi)
                x = torch.bmm(x, _rotation_about(self.up, ang).to(dev, dt))
            elif name == "rotate-so3":
                x = torch.bmm(x, random_rotations(b, generator).to(dev, dt))
            elif name == "scale":
                s = torch.empty(b, 1, 3).uniform_(0.8, 1.25, generator=generator)
                x = x * s.to(dev, dt)
            elif name == "shift":
                t = torch.empty(b, 1, 3).uniform_(-0.1, 0.1, generator=generator)
                x = x + t.to(dev, dt)
            elif name == "dropout":
                ratio = torch.rand(b, 1, generator=generator) * 0.875
                drop = (torch.rand(b, n, generator=generator) <= ratio).to(dev)
                x = torch.where(drop.unsqueeze(-1), x[:, :1, :].expand(-1, n, -1), x)
        return x
