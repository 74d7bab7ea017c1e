"""Eye-dome lighting for one renderer: depth edges drawn darker (VTK's EDL render pass).

VTK's EDL darkens a pixel by the depth drop to its neighbours divided by the scene's size (the
diagonal of every drawn prop's bounds), with a fixed, strong gain: a tilted cloud came out at
~15 % of its colour. The pass has no strength setting, so a two-vertex "yardstick" prop that
always lies outside the clipping range (never drawn, and ignored by camera fits: UseBounds
off) stretches the size it sees EDL_SOFTEN times: slopes keep ~85 % of their colour while
depth edges still get a dark line.
"""
from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonDataModel import vtkCellArray
from vtkmodules.vtkRenderingCore import vtkRenderer

from .render_actors import _copy_into, _polydata

EDL_SOFTEN = 12.0


class EyeDome:
    """Eye-dome lighting (depth-edge shading) for one renderer, switched with ``set_enabled``."""

    def __init__(self, renderer: vtkRenderer):
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper
        from vtkmodules.vtkRenderingOpenGL2 import vtkEDLShading, vtkRenderStepsPass

        self.renderer = renderer
        self.enabled = False
        self._steps = vtkRenderStepsPass()   # the usual opaque/translucent/overlay steps, shaded after
        self._pass = vtkEDLShading()
        self._pass.SetDelegatePass(self._steps)
        pd, self._yard_pts = _polydata(np.zeros((2, 3), np.float32))
        cells = vtkCellArray()      # vertices: VTK 9 bounds count only points that cells use
        cells.SetData(numpy_to_vtkIdTypeArray(np.array([0, 2], np.int64), deep=True),
                      numpy_to_vtkIdTypeArray(np.array([0, 1], np.int64), deep=True))
        pd.SetVerts(cells)
        self._yard_pd = pd
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(pd)
        self._yard = vtkActor()
        self._yard.SetMapper(mapper)
        self._yard.SetUseBounds(False)
        self._yard.PickableOff()
        self._yard.SetVisibility(False)
        renderer.AddActor(self._yard)
        renderer.AddObserver("StartEvent", lambda *a: self._place_yardstick())

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self.renderer.SetPass(self._pass if self.enabled else None)
        self._yard.SetVisibility(self.enabled)

    def _place_yardstick(self) -> None:
        if not self.enabled:
            return
        b = self.renderer.ComputeVisiblePropBounds()
        if b[0] > b[1]:
            return
        diag = max(float(np.linalg.norm(np.subtract(b[1::2], b[0::2]))), 1e-6)
        cam = self.renderer.GetActiveCamera()
        f, d = np.array(cam.GetFocalPoint()), np.array(cam.GetDirectionOfProjection())
        # Along the line of sight, both ends far outside the scene's bounding sphere: one behind
        # the far plane, one behind the camera (or the near plane), so neither is ever drawn.
        half = max(EDL_SOFTEN * diag / 2, diag + cam.GetDistance())
        _copy_into(self._yard_pts.GetData(), np.array([f - d * half, f + d * half], np.float32))
        self._yard_pts.Modified()
        self._yard_pd.Modified()
