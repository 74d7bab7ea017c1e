"""Give a method's layers the viewports they draw in: hide other panels' visible layers there.

Several panels draw in view 0 (the sample cloud, Inspect's saliency, ...); their clouds overlap
a method's own and mix two colour scales. Hidden layers stay in the Layers panel, one click away.
"""
from __future__ import annotations


def hide_others(scene, prefix: str, views) -> list[str]:
    """Hide visible layers in ``views`` whose names do not start with ``prefix``; their names."""
    views = set(views)
    hidden = []
    for layer in scene.layers():
        if layer.view in views and layer.visible and not layer.name.startswith(prefix) \
                and not layer.name.startswith("_"):
            scene.set_style(layer.name, visible=False)
            hidden.append(layer.name)
    return hidden
