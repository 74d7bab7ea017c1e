"""Point-cloud transformer parts shared by SeRP-Transformer, VASP and their classifier.

Layout and module names follow Point-MAE / SeRP: FPS + kNN
grouping, a mini-PointNet patch embedding, a position MLP, pre-norm blocks (``norm1``,
``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``) with the position embedding
re-added before every block. Hidden widths of the embeddings scale with the token width ``dim``
(384 is the paper's network) so a tiny configuration runs on a CPU.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.ops.geometry import farthest_point_sample, gather_points, pairwise_sq_dist
from engine.models.base import scaled

PAPER_DIM = 384


def group_patches(points: torch.Tensor, num_groups: int, group_size: int,
                  skip_near_origin: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """FPS centres (start 0, pointnet2_ops' near-origin skip) and their kNN patches.

    points (B, N, 3) -> centre indices (B, G), patch indices (B, G, n) ascending by distance
    (the centre itself first unless a duplicate point ties with it).
    """
    centre_idx = farthest_point_sample(points, num_groups, start=0,
                                       skip_near_origin=skip_near_origin)
    centres = gather_points(points, centre_idx)
    d = pairwise_sq_dist(centres, points)
    patch_idx = torch.topk(d, group_size, dim=2, largest=False, sorted=True).indices
    return centre_idx, patch_idx


class PatchEmbedding(nn.Module):
    """Mini-PointNet per patch: 3 -> h1 -> h2, max, [max ‖ per-point] -> h3 -> dim, max."""

    def __init__(self, dim: int):
        super().__init__()
        w = dim / PAPER_DIM
        h1, h2, h3 = scaled(128, w), scaled(256, w), scaled(512, w)
        self.first_conv = nn.Sequential(nn.Conv1d(3, h1, 1), nn.BatchNorm1d(h1), nn.ReLU(inplace=True),
                                        nn.Conv1d(h1, h2, 1))
        self.second_conv = nn.Sequential(nn.Conv1d(2 * h2, h3, 1), nn.BatchNorm1d(h3),
                                         nn.ReLU(inplace=True), nn.Conv1d(h3, dim, 1))
        self.dim = dim

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """patches (B, G, n, 3), centre-relative -> tokens (B, G, dim)."""
        b, g, n, _ = patches.shape
        x = self.first_conv(patches.reshape(b * g, n, 3).transpose(1, 2))
        pooled = x.amax(dim=2, keepdim=True)
        x = self.second_conv(torch.cat([pooled.expand(-1, -1, n), x], dim=1))
        return x.amax(dim=2).reshape(b, g, self.dim)


class PositionEmbedding(nn.Module):
    """Centre coordinates -> dim (Linear, GELU, Linear)."""

    def __init__(self, dim: int):
        super().__init__()
        hidden = scaled(128, dim / PAPER_DIM)
        self.block = nn.Sequential(nn.Linear(3, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, centres: torch.Tensor) -> torch.Tensor:
        return self.block(centres)


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch of a whole sample with probability p."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(keep) / keep


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)   # no qkv bias, as Point-MAE
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TransformerStack(nn.Module):
    """Blocks with the position embedding re-added before each; optional final LayerNorm
    (the SeRP decoder has one, the encoder does not)."""

    def __init__(self, dim: int, depth: int, heads: int, drop_path: float = 0.1,
                 final_norm: bool = False):
        super().__init__()
        # stochastic-depth rates rising linearly over the blocks, in plain Python so the stack can
        # be built on torch's 'meta' device (the checkpoint loader checks shapes there first)
        rates = [drop_path * i / (depth - 1) for i in range(depth)] if depth > 1 else [0.0] * depth
        self.blocks = nn.ModuleList(Block(dim, heads, drop_path=r) for r in rates)
        self.norm = nn.LayerNorm(dim) if final_norm else None

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x + pos)
        return self.norm(x) if self.norm is not None else x


def init_weights(module: nn.Module, xavier: bool = False) -> None:
    """Point-MAE's initialisation: truncated normal (std .02) for Linear/Conv1d weights of the
    encoder, Xavier-uniform for the decoder's Linear layers; zero biases; LayerNorm 1/0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            if xavier:
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv1d) and not xavier:
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
