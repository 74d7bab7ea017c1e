"""VASP: SeRP-Transformer with a vector-quantised bottleneck (paper section 3.4).

Every encoder token (the CLS token included) is replaced by its nearest codebook vector
(squared L2, eq. 12). The decoder sees the codes; the gradient reaching the codes is copied to
the encoder output (straight-through), so reconstruction still trains the encoder. Two more
losses (eq. 13): the codebook loss ||sg[z_e] - e||^2 moves codes towards encoder outputs, the
commitment loss ||z_e - sg[e]||^2 keeps encoder outputs near their codes; 0.25 each by default.
The codebook is stored as ``emb.weight`` of shape (d, K) and initialised U[0, 1) as the public
``NearestEmbed``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.errors import ParameterError
from engine.core.registry import MODELS
from engine.models.serp_transformer import SerpTransformer


class NearestEmbed(nn.Module):
    def __init__(self, num_codes: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(dim, num_codes))

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Code index of each vector of z (..., d)."""
        flat = z.reshape(-1, z.shape[-1])
        w = self.weight.detach()
        d = (flat * flat).sum(1, keepdim=True) - 2 * flat @ w + (w * w).sum(0, keepdim=True)
        return d.argmin(dim=1).reshape(z.shape[:-1])

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.weight.t())


@MODELS.register("vasp")
class VASP(SerpTransformer):
    key = "vasp"
    task = "self-supervised"
    cli_options = dict(SerpTransformer.cli_options)
    cli_options["codebook_size"] = (int, 512, "VASP: number of codebook vectors")

    def __init__(self, codebook_size: int = 512, codebook_weight: float = 0.25,
                 commitment_weight: float = 0.25, **kwargs):
        if codebook_size < 1:
            raise ParameterError(f"VASP codebook_size = {codebook_size} must be >= 1.")
        super().__init__(codebook_size=codebook_size, codebook_weight=codebook_weight,
                         commitment_weight=commitment_weight, **kwargs)
        self.emb = NearestEmbed(codebook_size, self.dim)

    def bottleneck(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        idx = self.emb.nearest(tokens)
        codes = self.emb.lookup(idx)                              # gradient reaches the codebook
        z_q = tokens + (codes - tokens).detach()                  # straight-through to the encoder
        counts = torch.bincount(idx.reshape(-1), minlength=self.emb.weight.shape[1]).float()
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())
        return z_q, {"codebook": F.mse_loss(codes, tokens.detach()),
                     "commitment": F.mse_loss(tokens, codes.detach()),
                     "codes": idx, "perplexity": perplexity.detach()}
