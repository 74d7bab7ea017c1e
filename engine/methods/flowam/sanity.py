"""METHOD "flowam-sanity": the paper's sanity check (Fig. 7, S2, Table S1) and ablations (Table III).

Sanity check: "we set a dropout probability for each parameter of the model" — a COPY of the
classifier gets a random fraction P_D of the entries of every parameter tensor set to zero
(exactly round(P_D * size) entries per tensor, drawn with the seed; buffers such as BatchNorm
running statistics are kept), for P_D = 0, 0.1, ..., 0.5. Flow AM is run again on each copy,
with the class-mean activations recomputed from that copy (all information must come from the
model being explained; the class-average start cloud is data only and stays). A faithful
explanation must degrade. Reported per level: Chamfer (CD-L2) to the undropped explanation,
Chamfer to real objects (what Table S1 lists: its P_D = 0 entry equals Table I's CD), the
target logit / softmax / prediction under the dropped model, and the dropped model's accuracy.

Ablations: Flow AM with all terms and with L_LA, L_C or L_LR removed, with the Table III
metrics (logit, softmax, CD, FID, legality).
"""
from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np

from engine.core.errors import ParameterError
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.methods.flowam.baselines import aligned_layer_weights
from engine.methods.flowam.method import explain
from engine.methods.flowam.inputs import class_index, resolve_inputs
from engine.methods.flowam.stats import activations, dataset_fingerprint, load_clouds, model_fingerprint
from engine.specs import flowam as spec
from engine.specs.flowam import SanityParams  # noqa: F401  (declared in the spec)

ABLATIONS = (("all", {}), ("no_la", {"use_la": False}), ("no_c", {"use_c": False}),
             ("no_lr", {"use_lr": False}))


def drop_parameters(model, fraction: float, seed: int = 0):
    """A deep copy of ``model`` with ``fraction`` of every parameter tensor's entries zeroed."""
    import torch

    if not 0.0 <= fraction <= 1.0:
        raise ParameterError(f"dropout fraction {fraction} is outside [0, 1].")
    dropped = copy.deepcopy(model)
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for p in dropped.parameters():
            k = int(round(fraction * p.numel()))
            if k == 0:
                continue
            idx = torch.randperm(p.numel(), generator=g)[:k].to(p.device)
            p.view(-1)[idx] = 0.0
    return dropped


def parse_levels(text: str) -> list[float]:
    try:
        levels = [float(s) for s in text.replace(";", ",").split(",") if s.strip()]
    except ValueError:
        raise ParameterError(f"dropout levels '{text}' are not numbers; write e.g. '0,0.1,0.2'.") from None
    if not levels or any(not 0.0 <= v < 1.0 for v in levels):
        raise ParameterError(f"dropout levels '{text}' must be numbers in [0, 1).")
    return sorted(set([0.0] + levels))


def dropped_accuracy(model, dataset, split: str, points: int, per_class: int) -> float:
    sp = dataset.split(split)
    labels = np.asarray(sp.labels)
    idx = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(len(dataset.classes))])
    logits = activations(model, load_clouds(sp, idx, points), [])["logits"]
    return float((logits.argmax(1) == labels[idx]).mean())


@implements(spec.SANITY)
class FlowAMSanity(Method):
    def run(self, params: SanityParams, *, model, target, dataset=None, data: str | None = None):
        import torch

        from engine.ops.geometry import chamfer_l2

        start = time.perf_counter()
        model, ds, classes, source = resolve_inputs(model, dataset, data)
        label = class_index(target, classes)
        levels = parse_levels(params.levels) if params.part != "ablation" else [0.0]
        runs = [(lv, r) for lv in levels for r in range(params.repeats if lv > 0 else 1)]
        ablations = ABLATIONS[1:] if params.part != "dropout" else ()
        per_run = params.steps + 2
        total = per_run * (len(runs) + len(ablations))
        yield Progress(0, total, "sanity check")
        base = dataclasses.replace(params)
        arrays, metrics = {}, {"class": classes[label], "method": "flow"}
        done = 0

        def one(m, p, text):
            nonlocal done
            out = yield from explain(m, ds, classes, label, p, done, total, text)
            done += per_run
            return out

        ref, _, ref_metrics = yield from one(model, base, "P_D=0: ")
        ref_cloud = ref[0]
        ref_t = torch.as_tensor(ref_cloud)[None]
        if params.part != "ablation":
            rows = []
            clouds = {0.0: ref_cloud}
            for lv, r in runs:
                if lv == 0.0:
                    m, cloud, mt = model, ref_cloud, ref_metrics
                else:
                    m = drop_parameters(model, lv, seed=params.seed * 1000 + r)
                    out, _, mt = yield from one(m, base, f"P_D={lv:g} #{r + 1}: ")
                    cloud = out[0]
                    clouds.setdefault(lv, cloud)
                pc = mt["per_cloud"][0]
                rows.append({"level": lv, "repeat": r,
                             "chamfer_to_undropped": float(chamfer_l2(torch.as_tensor(cloud)[None], ref_t)),
                             "chamfer_to_real": pc["chamfer"], "logit": pc["logit"], "softmax": pc["softmax"],
                             "predicted": pc["predicted"], "success": pc["success"],
                             "accuracy": dropped_accuracy(m, ds, params.stats_split, params.points,
                                                       params.accuracy_per_class)})
            metrics["dropout"] = rows
            arrays["levels"] = np.asarray(levels, np.float64)
            arrays["dropout_points"] = np.stack([clouds[lv] for lv in levels]).astype(np.float32)
            for key in ("chamfer_to_undropped", "chamfer_to_real", "logit", "accuracy"):
                arrays[key] = np.asarray([np.mean([x[key] for x in rows if x["level"] == lv]) for lv in levels])
                arrays[key + "_std"] = np.asarray([np.std([x[key] for x in rows if x["level"] == lv]) for lv in levels])
        if ablations:
            table = {"all": _table_row(ref_metrics, classes[label])}
            clouds = [ref_cloud]
            for name, change in ablations:
                out, _, mt = yield from one(model, dataclasses.replace(base, **change), f"{name}: ")
                table[name] = _table_row(mt, classes[label])
                clouds.append(out[0])
            metrics["ablation"] = table
            arrays["ablation_names"] = np.asarray([a for a, _ in ABLATIONS], dtype="S")
            arrays["ablation_points"] = np.stack(clouds).astype(np.float32)
        yield Progress(total, total, "done")
        metrics["seconds"] = time.perf_counter() - start
        metrics["layer_weights"] = aligned_layer_weights(params, model)   # 'auto' resolved against the model
        provenance = {"layer_weights": metrics["layer_weights"], "seed": params.seed, "checkpoint": source, "model_fingerprint": model_fingerprint(model),
                      "dataset": str(ds.path), "dataset_fingerprint": dataset_fingerprint(ds),
                      "class": classes[label], "torch": torch.__version__}
        return Result("flowam-sanity", arrays=arrays, metrics=metrics,
                      params=dataclasses.asdict(params), provenance=provenance)


def _table_row(metrics: dict, name: str) -> dict:
    pc = metrics["per_cloud"][0]
    st = metrics["set"][name]
    return {"logit": pc["logit"], "softmax": pc["softmax"], "log_softmax": pc["log_softmax"],
            "chamfer": pc["chamfer"], "fid": st["fid"], "legality": pc["legality"],
            "legal": pc["legal"], "predicted": pc["predicted"], "success": pc["success"]}
