"""pointmask-fig4: the PointMask paper's Fig. 4, accuracy on the unbiased test after training on
letter-biased data, through the bias lab (one cell = one model x one bias level x one seed).

The lab's own defaults (KL weight, threshold, letter size) are used: this reproduction follows
whatever recipe the lab ships, and only sets the scale (epochs, points, width, clouds).
"""
from __future__ import annotations

from engine.core.jobs import Job
from engine.reproduce.declaration import Cell, PaperValue, Reproduction, Settings, seeds_of
from engine.specs.pointmask import LAB_MODELS

LEVELS = (1, 50, 100, 256)
NAMES = {"pointnet": "PointNet", "randmask": "RandMask", "pointmap": "PointMap", "pointmask": "PointMask"}
WHERE = "Fig. 4 and section 4.2 text (ModelNet10)"

# The figure's bars are not in the text; the text gives these (section 4.2): PointNet "drops to
# random accuracy, even with a single point pattern", RandMask "decreases to 42%" at 256 points,
# PointMask "achieves an accuracy of 76%" at the strongest bias (256).
PAPER = {
    **{(f"{NAMES['pointnet']}, unbiased test", str(k)): PaperValue("random (chance)", WHERE) for k in LEVELS},
    (f"{NAMES['randmask']}, unbiased test", "256"): PaperValue("42", WHERE, 42.0),
    (f"{NAMES['pointmask']}, unbiased test", "256"): PaperValue("76", WHERE, 76.0),
}


def cells(settings: Settings, scale) -> list[Cell]:
    return [Cell(f"{model}-k{level}-s{seed}", {"model": model, "level": level, "seed": seed})
            for model in scale["models"] for level in scale["levels"] for seed in seeds_of(settings)]


def run_cell(cell: Cell, settings: Settings, scale):
    c = cell.config
    params = {k: v for k, v in scale.items() if k not in ("models", "levels")}
    params.update(settings.params, levels=str(c["level"]), models=c["model"], seed=c["seed"])
    result = yield from _start(Job("bias-lab", {"data": settings.data}, params, device=settings.device))
    acc = result.metrics["accuracy"]
    name, level = NAMES[c["model"]], str(c["level"])
    return {(f"{name}, unbiased test", level): 100.0 * acc["unbiased"][c["model"]][level],
            (f"{name}, biased test", level): 100.0 * acc["biased"][c["model"]][level]}


def _start(job):
    from engine.catalog import start

    return start(job)


REPRODUCTION = Reproduction(
    name="pointmask-fig4", title="Training on letter-biased data, testing without the letters",
    paper="PointMask (Taghanaki et al.), Fig. 4",
    paper_setting="ModelNet10, 2048 points + a class letter of 1/50/100/256 points, 500 epochs, Adam 1e-4, "
                  "batch 32 (section 4.4).",
    paper_values=PAPER, cells=cells, run_cell=run_cell, unit="% accuracy", x_label="bias level (letter points)",
    quick={"models": ("pointnet", "randmask", "pointmask"), "levels": (1, 256), "epochs": 4, "points": 256,
           "limit": 400, "width": 0.25},
    full={"models": LAB_MODELS, "levels": LEVELS, "epochs": 40, "points": 1024, "limit": 0, "width": 0.25},
    paper_scale={"data": "ModelNet10", "backbone": "PointNet", "epochs": 500, "points": 2048, "width": 1.0,
                 "limit": 0, "levels": LEVELS},
    cause_notes={"width": "The paper's networks are full width; ours are a quarter wide so that a cell "
                          "trains in minutes on a CPU, and a narrower PointNet may latch onto the letter "
                          "differently.",
                 "epochs": "With few epochs a model may not have learnt the letter shortcut yet, so the "
                           "unbiased accuracy can sit above the paper's fall to chance."},
    notes="Only the 256-point values of RandMask and PointMask, and PointNet's fall to chance, are printed "
          "in the paper's text; the rest of Fig. 4 is a plot. Ours uses the bias lab's default recipe "
          "(engine/specs/pointmask.py), a narrower network (width 0.25) and fewer epochs than the paper.")
