"""Point-MAE and Point-BERT fine-tuned classifiers read into ``serp-transformer-cls``.

Point-MAE (``PointTransformer`` in its ``models/Point_MAE.py``) saves ``{"base_model": state,
"optimizer", "epoch", "metrics", ...}``; the state holds ``cls_token``, ``cls_pos``, the patch
mini-PointNet ``encoder.*``, the position MLP ``pos_embed.0/2``, the blocks
``blocks.blocks.i.*``, ``norm.*`` and the head ``cls_head_finetune.*``. Our classifier has the
same blocks and embeddings under other prefixes (SeRP's names), so the file loads by renaming
prefixes; its head is our ``head="pointmae"``. Attention heads and the grouping (64 patches of
32 points) leave no trace in the weights and take Point-MAE's settings (6 heads, as SeRP).

Point-BERT's classifier (its ``models/Point_BERT.py``) has the same prefixes plus
``reduce_dim`` (its mini-PointNet ends at 256 channels, projected to the token width) and a
one-hidden-layer head: our ``patch_dims`` and ``head="pointbert"``.

A renamed state dict remembers the file's names, so a mismatch report names the tensors as
the person sees them in their file.
"""
from __future__ import annotations

import re

import torch

from engine.core.errors import CheckpointError
from engine.models.state_dims import dim_of as _dim

# (prefix in the Point-MAE file, prefix in serp-transformer-cls), tried in order.
POINT_MAE_PREFIXES = (
    ("encoder.", "patch_embedding."),
    ("pos_embed.", "encoder_pos_embed.block."),
    ("blocks.blocks.", "serp_encoder.blocks."),
    ("cls_head_finetune.", "head."),
)
POINT_MAE_HEADS, POINT_MAE_GROUPS, POINT_MAE_GROUP_SIZE = 6, 64, 32
# Pre-training models: Point-MAE's masked autoencoder, Point-BERT's momentum encoder pair.
PRETRAIN_PREFIXES = ("MAE_encoder.", "transformer_q.")


class RenamedState(dict):
    """A state dict under PointLens names that can say what a tensor is called in the file."""

    def __init__(self, state: dict, rules: tuple[tuple[str, str], ...]):
        super().__init__(state)
        self.rules = rules

    def file_name(self, ours: str) -> str:
        for theirs, mine in self.rules:
            if ours.startswith(mine):
                return theirs + ours[len(mine):]
        return ours


def file_name(state: dict, ours: str) -> str:
    """What ``ours`` is called in the file ``state`` came from (itself unless renamed)."""
    return state.file_name(ours) if isinstance(state, RenamedState) else ours


def is_point_mae(state: dict) -> bool:
    return (any(k.startswith("cls_head_finetune.") for k in state)
            or ("cls_token" in state and any(k.startswith("blocks.blocks.") for k in state)))


def translate_point_mae(state: dict[str, torch.Tensor], where: str) -> tuple[dict, list[str]] | None:
    """The state under ``serp-transformer-cls`` names and a report note, or None if ``state`` is
    not a Point-MAE/Point-BERT classifier."""
    if any(k.startswith(PRETRAIN_PREFIXES) for k in state) and not any(
            k.startswith("cls_head_finetune.") for k in state):
        raise CheckpointError(
            f"{where}: this is a Point-MAE / Point-BERT pre-training checkpoint "
            f"({', '.join(p.rstrip('.') for p in PRETRAIN_PREFIXES)} weights, no classifier head); "
            "PointLens opens their fine-tuned classifiers.",
            hint="Open the classifier fine-tuned from it (its file holds cls_head_finetune.*).")
    if not is_point_mae(state):
        return None
    source = "Point-BERT" if any(k.startswith("reduce_dim.") for k in state) else "Point-MAE"
    renamed = {}
    for key, value in state.items():
        for theirs, ours in POINT_MAE_PREFIXES:
            if key.startswith(theirs):
                key = ours + key[len(theirs):]
                break
        renamed[key] = value
    return RenamedState(renamed, POINT_MAE_PREFIXES), [
        f"{source} fine-tuned classifier: encoder.* -> patch_embedding.*, pos_embed.* -> "
        "encoder_pos_embed.block.*, blocks.blocks.* -> serp_encoder.blocks.*, "
        "cls_head_finetune.* -> head.*",
        f"attention heads and grouping are not stored in the weights: {source}'s "
        f"{POINT_MAE_HEADS} heads and {POINT_MAE_GROUPS} patches of {POINT_MAE_GROUP_SIZE} points"]


_BLOCK = re.compile(r"^serp_encoder\.blocks\.(\d+)\.")


def transformer_cls_config(state: dict[str, torch.Tensor]) -> dict | None:
    """Config of a ``serp-transformer-cls`` state dict (native names or a renamed Point-MAE
    file), or None. Width from the tokens, depth from the blocks, classes and head kind from
    the head's last layer; the rest cannot be read from weights."""
    from engine.models.serp_transformer import POINTMAE_HEAD_HIDDEN

    keys = list(state)
    if not (any(k.startswith("serp_encoder.blocks.") for k in keys)
            and any(k.startswith("patch_embedding.") for k in keys)
            and any(k.startswith("head.") for k in keys)) or any(k.startswith("serp_decoder.") for k in keys):
        return None
    # Blocks counted, not read off the largest index: one stray name such as blocks.999999.*
    # must not make us build a million blocks; gaps then show up as missing tensors.
    depth = len({m.group(1) for k in keys if (m := _BLOCK.match(k))})
    config: dict = {"size": "paper", "depth": depth, "heads": POINT_MAE_HEADS,
                    "groups": POINT_MAE_GROUPS, "group_size": POINT_MAE_GROUP_SIZE}
    dim = _dim(state, ("cls_token", 2), ("cls_pos", 2), ("norm.weight", 0),
               ("serp_encoder.blocks.0.norm1.weight", 0))
    if dim is not None:
        config["dim"] = dim
    patch_dims = _dim(state, ("reduce_dim.weight", 1))
    if patch_dims is not None:
        config["patch_dims"] = patch_dims
    pointbert = any(k.startswith("head.3.") for k in keys)
    if pointbert or any(k.startswith(("head.0.", "head.8.")) for k in keys):
        config["head"] = "pointbert" if pointbert else "pointmae"
        last = "head.3" if pointbert else "head.8"
        classes = _dim(state, (last + ".weight", 0), (last + ".bias", 0))
        hidden = _dim(state, ("head.0.weight", 0))
        if hidden is not None and hidden != POINTMAE_HEAD_HIDDEN:
            raise CheckpointError(
                f"the classifier head's first layer ({file_name(state, 'head.0.weight')}) has "
                f"{hidden} outputs; Point-MAE's and Point-BERT's heads have {POINTMAE_HEAD_HIDDEN}.",
                hint="Check that the file is a Point-MAE or Point-BERT fine-tuned classifier.")
    else:
        classes = _dim(state, ("head.weight", 0), ("head.bias", 0))
    if classes is not None:
        config["num_classes"] = classes
    return config
