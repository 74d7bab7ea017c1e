"""View-menu toggles for what the sample carries besides its points: the mesh surface under
them and the normals as short lines (``sample_extras.CloudExtras`` does the showing)."""
from __future__ import annotations

from PySide6.QtGui import QAction

from .sample_extras import NORMALS, SURFACE, CloudExtras

TOGGLES = ((SURFACE, "Mesh &surface under the points", "a mesh file's triangles, shaded, under its sampled points"),
           (NORMALS, "&Normals as lines", "each point's normal as a short line (when the file has normals)"))


def add_toggles(menu, extras: CloudExtras) -> dict[str, QAction]:
    """Checkable actions in ``menu``, one per extra layer, kept in step with the Layers panel."""
    actions: dict[str, QAction] = {}
    for name, text, tip in TOGGLES:
        a = QAction(text, menu, checkable=True)
        a.setToolTip(tip)
        a.setStatusTip(tip)
        a.setChecked(extras.wanted[name])
        a.toggled.connect(lambda on, n=name: extras.set_wanted(n, on) if extras.wanted[n] != on else None)
        menu.addAction(a)
        actions[name] = a

    def follow() -> None:
        for name, a in actions.items():
            if a.isChecked() != extras.wanted[name]:
                a.setChecked(extras.wanted[name])

    extras.listeners.append(follow)
    return actions
