"""One line saying which real class a Flow AM explanation looks like (the `nearest_real_class`
metric: the class whose real objects lie nearest in mean Chamfer distance)."""
from __future__ import annotations


def nearest_class_text(metrics: dict) -> str:
    """'looks like <b>chair</b>' (green when it is the target class, red otherwise), or '' for a
    result saved before the metric existed."""
    near = metrics.get("nearest_real_class")
    if near is None:
        return ""
    colour = "#080" if near == metrics.get("class") else "#b00"
    return f"looks like <b style='color:{colour}'>{near}</b>"
