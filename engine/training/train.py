"""One training loop for every registered model: the "train" method (GUI, CLI and tests).

The loop knows nothing model-specific: it calls ``model.training_loss(points, labels,
soft_labels)`` (self-supervised models ignore the labels), steps the optimiser and schedule,
evaluates on the test split after every epoch (accuracy for classifiers, loss otherwise), and
writes the checkpoint atomically (best or last) plus a resume sidecar. Seeded and deterministic
on CPU: the model is built after ``torch.manual_seed(seed)``, every epoch's shuffle and
augmentation draws come from generators seeded by (seed, epoch, rank), and torch's global RNG
(dropout, perturbations) is saved with the resume state.

Under ``torchrun --nproc_per_node=N`` each process trains on its shard through
DistributedDataParallel (gloo on CPU, nccl on GPU); only rank 0 evaluates and writes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engine.core.errors import ParameterError
from engine.core.jobs import Ticker
from engine.core.method import JobGenerator, Method, implements
from engine.core.registry import AUGMENTATIONS, MODELS
from engine.core.types import Progress, Result
from engine.specs import training as spec
from engine.training import state as ts
from engine.training.augment import PointAugment, parse_names
from engine.training.batches import TrainData, epoch_batches, gather, load_train_data, tensor_batches

MAX_HISTORY = 4000   # per-step loss points kept for the live plot (thinned beyond that)


def parse_options(value: Any, what: str) -> dict:
    """Model / mix options given as a dict or as JSON text ('' = none)."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return dict(value)
    try:
        out = json.loads(str(value))
    except json.JSONDecodeError:
        raise ParameterError(f"{what} must be a JSON object, got {value!r}.",
                             hint='E.g. {"alpha": 0.1}.') from None
    if not isinstance(out, dict):
        raise ParameterError(f"{what} must be a JSON object, got {value!r}.")
    return out


def load_registries() -> None:
    """Register the models and the mix augmentations training can use."""
    import engine.methods.mix.augment  # noqa: F401
    import engine.models.zoo  # noqa: F401


def model_config(key: str, width: float, num_classes: int, options: dict) -> dict:
    cls = MODELS.get(key)
    config: dict[str, Any] = {"width": width}
    if getattr(cls, "task", "classification") == "classification":
        config["num_classes"] = num_classes
    config.update(options)
    return config


@dataclass
class TrainRun:
    """What one training loop needs, built by ``Train.run``: the settings, the model and how it
    steps, the data, where it runs, and the state a resumed run starts from."""

    params: Any                      # TrainParams
    model: torch.nn.Module
    runner: Any                      # (x, labels, soft) -> (loss, stats); DDP-wrapped when distributed
    optimizer: torch.optim.Optimizer
    scheduler: Any
    augment: PointAugment
    mix: Any                         # a mix augmentation or None
    data: TrainData
    device: torch.device
    dist: ts.Dist
    supervised: bool
    history: dict[str, list]
    start: int = 0                   # epochs already done (resume)
    best: float = -math.inf          # best score so far (resume)
    pdict: dict = field(default_factory=dict)     # params as saved in the checkpoint and resume state
    config: dict = field(default_factory=dict)    # the model's build settings
    command: str = ""
    init_text: str = ""


@implements(spec.TRAIN)
class Train(Method):
    def run(self, params, *, device: str = "cpu", data=None, test=None, command: str = "") -> JobGenerator:
        """``device``: cpu, cuda, cuda:N or mps. ``data``: a dataset spec, an open Dataset or
        (x, y, classes) arrays; ``test``: (x, y) test arrays with array data; ``command``: recorded."""
        from engine.device import resolve_device

        load_registries()
        if params.model not in MODELS:
            MODELS.get(params.model)           # raises with suggestions
        names = parse_names(params.augmentations)
        mix = None
        if params.mix not in ("", "none"):
            mix_cls = AUGMENTATIONS.get(params.mix)
            try:
                mix = mix_cls(**parse_options(params.mix_options, "mix options"))
            except TypeError as e:
                raise ParameterError(f"mix augmentation '{params.mix}': {e}.") from None
        if params.resume and not params.out:
            raise ParameterError("--resume needs --out: the run resumes from the state beside it.")
        dist, device = ts.dist_setup(resolve_device(device))
        model = None
        try:
            yield Progress(0, 1, "loading data")
            td = load_train_data(data, points=params.points, limit=params.limit, sampling=params.sampling,
                                 seed=params.seed, test=test)
            if params.batch_size // dist.world < 2:
                raise ParameterError(f"batch size {params.batch_size} over {dist.world} processes leaves "
                                     f"fewer than 2 clouds per process.", hint="Raise --batch-size.")
            up = params.up_axis if params.up_axis != "auto" else td.info.get("up_axis", "y")
            augment = PointAugment(names, up_axis=up if up in ("x", "y", "z") else "y")
            yield Progress(0, 1, "building model")
            torch.manual_seed(params.seed)
            config = model_config(params.model, params.width, td.num_classes,
                                  parse_options(params.model_options, "model options"))
            from engine.models.base import build_model

            model = build_model(params.model, **config).to(device)
            supervised = getattr(model, "task", "classification") == "classification"
            init_text = ""
            if params.init:
                _, _, init_text = ts.init_from(model, params.init)
                yield Progress(0, 1, init_text)
            optimizer = ts.make_optimizer(model, params.optimizer, params.lr, params.weight_decay,
                                          params.momentum, fused=params.fast)
            scheduler = ts.make_scheduler(optimizer, params.scheduler, params.epochs,
                                          params.step_size, params.gamma)
            pdict = dataclasses.asdict(params)
            history: dict[str, list] = {"epoch": [], "loss": [], "train_acc": [], "test_acc": [],
                                        "test_loss": [], "step": [], "step_loss": []}
            start, best = 0, -math.inf
            if params.resume:
                state = ts.load_state(ts.state_path(params.out), pdict, td.fingerprint)
                ts.restore(state, model, optimizer, scheduler)
                start, best = int(state["epoch"]), float(state["best"])
                history.update({k: list(v) for k, v in state["history"].items()})
                yield Progress(0, 1, f"resuming after epoch {start}")
            runner = ts.loss_function(model, params.fast)
            if dist.world > 1:
                from torch.nn.parallel import DistributedDataParallel as DDP

                runner = DDP(ts.LossModule(model, runner),
                             device_ids=[device.index] if device.type == "cuda" else None)
            run = TrainRun(params=params, model=model, runner=runner, optimizer=optimizer, scheduler=scheduler,
                           augment=augment, mix=mix, data=td, device=device, dist=dist, supervised=supervised,
                           history=history, start=start, best=best, pdict=pdict, config=config,
                           command=command, init_text=init_text)
            result = yield from self._loop(run)
            return result
        finally:
            if model is not None:
                model.eval()
            ts.dist_teardown(dist)

    def _loop(self, r: TrainRun) -> JobGenerator:
        p, model, runner, optimizer, scheduler = r.params, r.model, r.runner, r.optimizer, r.scheduler
        augment, mix, td, device, dist = r.augment, r.mix, r.data, r.device, r.dist
        supervised, history, start, best = r.supervised, r.history, r.start, r.best
        pdict, config, command, init_text = r.pdict, r.config, r.command, r.init_text
        per_rank = p.batch_size // dist.world
        n_batches = len(epoch_batches(len(td.y_train), per_rank, p.seed, 0, dist.rank, dist.world))
        if n_batches == 0:
            raise ParameterError(f"{len(td.y_train)} training clouds make no batch of {per_rank}.",
                                 hint="Lower --batch-size or use more data.")
        total = (p.epochs - start) * n_batches
        ticker = Ticker(0.1)
        step_times: list[float] = []
        step_cpu: list[float] = []
        last_metrics: dict[str, Any] = {}
        written = ""
        t_run = time.perf_counter()
        done = 0
        for epoch in range(start, p.epochs):
            model.train()
            gen = torch.Generator().manual_seed(int(np.random.SeedSequence([p.seed, epoch, dist.rank]).generate_state(1)[0]))
            sums: dict[str, float] = {}
            correct = seen = 0
            has_logits = False
            batches = epoch_batches(len(td.y_train), per_rank, p.seed, epoch, dist.rank, dist.world)
            # The mix's data-only work (SageMix: partners and assignment) is prepared one batch
            # ahead, always, so the generator's draws come in one order whatever the machine. The
            # assignment STARTS at once only when torch leaves a core free to run it during this
            # batch's step; with every core busy it would compete (measured on 2 cores, 1 torch
            # thread: 2.21 -> 1.69 s per SageMix step; slower at 2).
            prepares = mix is not None and hasattr(mix, "prepare")
            overlap = torch.get_num_threads() < (os.cpu_count() or 1)

            def load(idx):
                x, y = gather(td.x_train, td.y_train, idx, device)
                x = augment(x, gen)
                return x, y, (mix.prepare(x, gen, start=overlap) if prepares else None)

            upcoming = load(batches[0]) if len(batches) else None
            for step_in_epoch, idx in enumerate(batches, start=1):
                t0, c0 = time.perf_counter(), time.process_time()
                x, y, prepared = upcoming
                if step_in_epoch < len(batches):
                    upcoming = load(batches[step_in_epoch])
                soft = None
                if mix is not None:
                    x, soft = (mix(model, x, y, td.num_classes, gen, prepared=prepared) if prepares
                               else mix(model, x, y, td.num_classes, gen))
                    model.train()
                optimizer.zero_grad(set_to_none=True)
                labels = y if supervised else None      # self-supervised models train without labels
                with _autocast(device, p.precision):
                    loss, stats = runner(x, labels, soft)
                if not torch.isfinite(loss):
                    raise ParameterError(f"the loss became {float(loss)} in epoch {epoch + 1}: training diverged.",
                                         hint="Lower --lr (e.g. by 10x) and train again.")
                loss.backward()
                optimizer.step()
                lv = float(loss.detach())
                sums["loss"] = sums.get("loss", 0.0) + lv * len(idx)
                for k, v in stats.items():
                    if isinstance(v, (int, float)):
                        sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
                logits = stats.get("logits")
                if supervised and isinstance(logits, torch.Tensor):
                    target = soft.argmax(1) if soft is not None else y
                    has_logits = True
                    correct += int((logits.argmax(1) == target).sum())
                seen += len(idx)
                done += 1
                step_times.append(time.perf_counter() - t0)
                step_cpu.append(time.process_time() - c0)
                _append_thinned(history, epoch * n_batches + step_in_epoch, lv)
                if ticker.due():
                    yield Progress(done, total, f"epoch {epoch + 1}/{p.epochs} loss {lv:.4f}",
                                   _preview(history, epoch, lv, n_batches))
            if scheduler is not None:
                scheduler.step()
            train_loss = sums.get("loss", 0.0) / max(seen, 1)
            train_acc = correct / seen if has_logits and seen else float("nan")
            test_acc, test_loss = float("nan"), float("nan")
            if dist.main and td.x_test is not None:
                test_acc, test_loss = yield from self._evaluate(model, td, device, supervised, p, done, total)
            history["epoch"].append(epoch + 1)
            history["loss"].append(train_loss)
            history["train_acc"].append(train_acc)
            history["test_acc"].append(test_acc)
            history["test_loss"].append(test_loss)
            score = _score(supervised, test_acc, test_loss, train_loss)
            last_metrics = {"epoch": epoch + 1, "loss": train_loss, "train_accuracy": train_acc,
                            "test_accuracy": test_acc, "test_loss": test_loss,
                            **{f"train_{k}": v / max(seen, 1) for k, v in sums.items() if k != "loss"}}
            improved = score > best
            best = max(best, score)
            if dist.main and p.out:
                if p.keep == "last" or improved or not math.isfinite(score):
                    self._write(p.out, model, td, pdict, config, command, last_metrics, init_text)
                    written = p.out
                ts.save_state(ts.state_path(p.out), model=model, optimizer=optimizer, scheduler=scheduler,
                              epoch=epoch + 1, history=history, best=best, params=pdict,
                              fingerprint=td.fingerprint, extra={"command": command})
            yield Progress(done, total, f"epoch {epoch + 1}/{p.epochs}: loss {train_loss:.4f}"
                           + (f", test accuracy {test_acc:.3f}" if supervised and math.isfinite(test_acc) else ""),
                           _preview(history, epoch, train_loss, n_batches))
        seconds = time.perf_counter() - t_run
        warm = step_times[1:] or step_times
        metrics = {**last_metrics, "best_score": best if math.isfinite(best) else None,
                   "checkpoint": written, "seconds": seconds, "steps": done, "steps_per_epoch": n_batches,
                   "step_seconds_median": float(np.median(warm)) if warm else None,
                   "step_cpu_seconds_median": float(np.median(step_cpu[1:] or step_cpu)) if step_cpu else None,
                   "samples_per_second": (per_rank * dist.world / float(np.median(warm))) if warm else None,
                   "task": "classification" if supervised else "self-supervised",
                   "init": init_text, "world_size": dist.world, "rank": dist.rank}
        tally = getattr(mix, "tally", None)
        if tally and tally.get("lower", 0) > 0:
            # Certified: the assignments' total cost is at most this far above the optimum.
            metrics["assignment_gap_bound"] = tally["cost"] / tally["lower"] - 1.0
            metrics["assignment_solver"] = mix.assignment
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
        return Result(kind="train", arrays=arrays, metrics=metrics, params=pdict,
                      provenance={"seed": p.seed, "data": td.source, "data_fingerprint": td.fingerprint,
                                  "classes": td.classes, "command": command, "init": p.init,
                                  "device": str(device)})

    def _evaluate(self, model, td, device, supervised, p, done, total):
        """Test accuracy (classifiers) and mean test loss, in eval mode, yielding progress."""
        model.eval()
        ticker = Ticker(0.1)
        correct = 0
        loss_sum = 0.0
        n = 0
        bs = max(p.batch_size, 32)
        from engine.models import pointnet_fast

        forward = (pointnet_fast.logits_fn(model) if p.fast else None) or model
        try:
            with torch.no_grad():
                for x, y in tensor_batches(td.x_test, td.y_test, bs, device):
                    if supervised:
                        logits = forward(x)
                        correct += int((logits.argmax(1) == y).sum())
                        loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
                    else:
                        loss, _ = model.training_loss(x, None, None)
                        loss_sum += float(loss) * len(y)
                    n += len(y)
                    if ticker.due():
                        yield Progress(done, total, f"testing {n}/{len(td.y_test)}")
        finally:
            model.train()
        acc = correct / n if supervised and n else float("nan")
        return acc, (loss_sum / n if n else float("nan"))

    def _write(self, out, model, td, pdict, config, command, metrics, init_text) -> None:
        from engine.models.checkpoints import save_checkpoint

        meta = {"classes": td.classes,
                "normalisation": {"method": "unit sphere (centre on the mean, divide by the max norm)"
                                  if td.source != "arrays" else "as given (in-memory arrays)",
                                  "points": pdict["points"], "sampling": pdict["sampling"]},
                "data": td.source, "data_fingerprint": td.fingerprint,
                "dataset": {"format": td.info.get("format", "arrays"),
                            "fingerprint": td.info.get("dataset_fingerprint"),
                            "train": int(len(td.y_train)),
                            "test": int(len(td.y_test)) if td.y_test is not None else 0},
                "metrics": {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                            for k, v in metrics.items()},
                "params": pdict, "command": command, "task": getattr(model, "task", "classification"),
                "init": init_text}
        if "up_axis" in td.info:
            meta["normalisation"]["up_axis"] = td.info["up_axis"]
        save_checkpoint(out, model, meta)


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _score(supervised: bool, test_acc: float, test_loss: float, train_loss: float) -> float:
    """What 'best' means: test accuracy; for self-supervised models the lowest test loss."""
    if supervised and math.isfinite(test_acc):
        return test_acc
    loss = test_loss if math.isfinite(test_loss) else train_loss
    return -loss


def _append_thinned(history: dict, step: int, loss: float) -> None:
    history["step"].append(step)
    history["step_loss"].append(loss)
    if len(history["step"]) > MAX_HISTORY:   # keep every other point: bounded preview size
        history["step"] = history["step"][::2]
        history["step_loss"] = history["step_loss"][::2]


def _preview(history: dict, epoch: int, loss: float, steps_per_epoch: int) -> dict:
    """Plot data: ``step``/``loss`` per training step (``steps_per_epoch`` steps make an epoch,
    so ``step / steps_per_epoch`` is the step's fractional epoch); ``epoch`` with ``epoch_loss``,
    ``train_acc`` and ``test_acc`` per finished epoch (NaN where not defined)."""
    return {"epoch": np.asarray(history["epoch"], np.float64),
            "step": np.asarray(history["step"], np.float64),
            "loss": np.asarray(history["step_loss"], np.float64),
            "epoch_loss": np.asarray(history["loss"], np.float64),
            "train_acc": np.asarray(history["train_acc"], np.float64),
            "test_acc": np.asarray(history["test_acc"], np.float64),
            "current_epoch": float(epoch + 1), "current_loss": float(loss),
            "steps_per_epoch": float(steps_per_epoch)}
