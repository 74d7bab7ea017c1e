"""A panel made from a spec alone (occlusion): its form comes from the spec, Run draws the result
on the panel's own stage."""
from __future__ import annotations

from .conftest import panel_named


def test_the_occlusion_panel_is_generated_from_its_spec_and_draws_importance(win, qtbot, tmp_path):
    from engine import specs

    panel = panel_named(win, "occlusion")
    assert panel.title == specs.get("occlusion").title
    assert set(panel.read_params()) == {"patches", "patch_size", "batch_size"}
    win.session.open_checkpoint("demo:pointnet")
    qtbot.waitUntil(lambda: win.session.checkpoint is not None, timeout=60000)
    qtbot.waitUntil(lambda: win.session.sample is not None, timeout=30000)
    h = panel.run()
    assert h is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)
    layer = win.scene.get("occlusion.points")
    assert layer.active == "importance" or "importance" in layer.scalars
    assert "occlusion.points" in win.viewports.views[0].actors
    panel_named(win, "inspect")
    assert "occlusion.points" not in win.viewports.views[0].actors      # its own stage only
