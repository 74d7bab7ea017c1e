"""What a training run keeps besides the loop: optimiser and schedule, the resume sidecar,
warm starts from another checkpoint (``--init``), and data-parallel set-up under torchrun.

The resume sidecar ``<checkpoint>.state.pt`` holds the last weights, the optimiser and schedule
state, the completed epoch, torch's RNG state and the history; it is written atomically with
``torch.save`` and read back with ``torch.load(weights_only=True)`` like any other .pt file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_path
from engine.core.errors import CheckpointError, ParameterError

STATE_FORMAT = "pointlens-train-state/1"
# Params that define the run: resuming with a different value would not continue the same run.
IDENTITY = ("model", "width", "points", "limit", "seed", "optimizer", "scheduler", "model_options",
            "batch_size", "sampling", "augmentations", "mix", "precision")


def state_path(checkpoint: str | os.PathLike) -> Path:
    p = Path(checkpoint)
    return p.with_name(p.name + ".state.pt")


def make_optimizer(model: torch.nn.Module, name: str, lr: float, weight_decay: float,
                   momentum: float, fused: bool) -> torch.optim.Optimizer:
    """Adam (the public PointNet trainers' choice) or SGD with momentum.

    ``fused``: one kernel per step for all parameters instead of ~10 tensor ops per parameter
    (torch >= 2.4 has a fused CPU Adam); measurably cheaper on CPU, same arithmetic.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ParameterError("the model has no trainable parameters.")
    kw: dict[str, Any] = {}
    if fused and _fused_ok(params):
        kw["fused"] = True
    if name == "adam":
        cls, args = torch.optim.Adam, {"lr": lr, "weight_decay": weight_decay}
    elif name == "sgd":
        cls, args = torch.optim.SGD, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
    else:
        raise ParameterError(f"optimizer '{name}' is unknown; use adam or sgd.")
    try:
        return cls(params, **args, **kw)
    except (RuntimeError, TypeError, ValueError):   # no fused kernel for this device/dtype
        return cls(params, **args)


def _fused_ok(params: list[torch.Tensor]) -> bool:
    dev = params[0].device.type
    return dev in ("cpu", "cuda", "mps") and all(p.is_floating_point() for p in params)


def make_scheduler(opt: torch.optim.Optimizer, name: str, epochs: int, step_size: int, gamma: float):
    """Stepped once per epoch. 'step' = StepLR (public trainers: 20 epochs x 0.7 / 0.5)."""
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    if name == "none":
        return None
    raise ParameterError(f"scheduler '{name}' is unknown; use step, cosine or none.")


# --- resume --------------------------------------------------------------------------------------

def save_state(path: Path, *, model: torch.nn.Module, optimizer, scheduler, epoch: int,
               history: dict, best: float, params: dict, fingerprint: str, extra: dict) -> None:
    inner = getattr(model, "module", model)
    state = {
        "format": STATE_FORMAT, "epoch": int(epoch), "best": float(best),
        "model": {k: v.detach().cpu().clone() for k, v in inner.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "rng": torch.get_rng_state(),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        "params": {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))},
        "fingerprint": fingerprint, "extra": extra,
    }
    with atomic_path(path) as tmp:
        torch.save(state, str(tmp))


def load_state(path: Path, params: dict, fingerprint: str) -> dict:
    """Read a resume sidecar and check it belongs to the same run (model, data, settings)."""
    if not path.is_file():
        raise ParameterError(f"nothing to resume: {path} does not exist.",
                             hint="Run once without --resume (it writes this file), or drop --resume.")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read the resume state ({' '.join(str(e).split())[:120]}).",
                              hint="Delete it and train without --resume.") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not a PointLens resume-state file.")
    missing = [k for k in ("model", "optimizer", "rng", "params") if k not in state]
    if missing:
        raise CheckpointError(f"{path}: the resume state is incomplete (no {', '.join(missing)}).",
                              hint="Delete it and train without --resume.")
    old = state.get("params", {})
    diff = [f"{k} {old.get(k)!r} -> {params.get(k)!r}" for k in IDENTITY
            if k in old and old.get(k) != params.get(k)]
    if diff:
        raise ParameterError(f"cannot resume {path}: settings differ from the saved run ({'; '.join(diff)}).",
                             hint="Resume with the same settings (only --epochs may grow), or train anew.")
    if state.get("fingerprint") != fingerprint:
        raise ParameterError(f"cannot resume {path}: the training data differ from the saved run's.",
                             hint="Resume with the same --data, --points and --limit.")
    return state


def restore(state: dict, model: torch.nn.Module, optimizer, scheduler) -> None:
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"the resume state does not fit this run ({' '.join(str(e).split())[:160]}).",
                              hint="Delete the .state.pt file beside the checkpoint and train without --resume.") from None


# --- warm start ----------------------------------------------------------------------------------

def init_from(model: torch.nn.Module, spec: str) -> tuple[int, int, str]:
    """Copy tensors whose name and shape match from checkpoint ``spec`` into ``model``.

    A pre-trained model may define ``encoder_state_dict()`` giving its encoder under the target's
    key names (``feat.*`` for PointNet encoders); otherwise its whole state dict is matched.
    Returns (copied, total in the model, text).
    """
    from engine.models.checkpoints import load_checkpoint

    src = load_checkpoint(spec).model
    source = src.encoder_state_dict() if hasattr(src, "encoder_state_dict") else src.state_dict()
    own = model.state_dict()
    match = {k: v for k, v in source.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    # batch-norm step counters are scalars that match any model: they do not count as a match
    counted = [k for k in match if not k.endswith("num_batches_tracked")]
    if not counted:
        raise CheckpointError(
            f"--init {spec}: none of its {len(source)} tensors match this model's names and shapes "
            f"(e.g. file: {', '.join(list(source)[:3])}; model: {', '.join(list(own)[:3])}).",
            hint="Initialise from a checkpoint of the same architecture and width.")
    own.update({k: v.to(own[k].dtype) for k, v in match.items()})
    model.load_state_dict(own)
    total = sum(not k.endswith("num_batches_tracked") for k in own)
    text = f"initialised {len(counted)} of {total} tensors from {spec}"
    return len(counted), total, text


# --- data parallel -------------------------------------------------------------------------------

@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    created: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def dist_setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group torchrun describes in RANK/WORLD_SIZE (gloo on CPU, nccl on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Dist(), device
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    created = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        created = True
    return Dist(rank=rank, world=world, created=created), device


def dist_teardown(d: Dist) -> None:
    if d.created:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


class LossModule(torch.nn.Module):
    """DDP synchronises gradients only through ``forward``; this forward is the training loss."""

    def __init__(self, model: torch.nn.Module, loss_fn=None):
        super().__init__()
        self.model = model
        self._loss_fn = loss_fn or model.training_loss

    def forward(self, points, labels, soft_labels):
        return self._loss_fn(points, labels, soft_labels)


def loss_function(model: torch.nn.Module, fast: bool):
    """``model.training_loss``, or the same loss computed by a faster layout where one exists."""
    if fast:
        from engine.models import pointnet_fast

        if pointnet_fast.applies_to(model):
            return lambda points, labels, soft=None: pointnet_fast.training_loss(model, points, labels, soft)
    return model.training_loss
