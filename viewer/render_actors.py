"""Layers -> VTK props, one class per layer kind, updated IN PLACE when only values change.

Part of the rendering code (with ``render.py`` and ``viewport.py``, the only modules that touch
VTK). ``LayerActor.update`` writes new coordinates/scalars into the existing VTK arrays: a
slider or a live preview never re-creates an actor. Large clouds keep a fixed random subset
that is drawn while the camera moves (``set_lod``), so orbiting stays usable on software GL.
"""
from __future__ import annotations

import numpy as np
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401 - the OpenGL backend
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray, vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkLookupTable, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

from . import colormaps
from .scene import ArrowsLayer, ColorScale, EllipsoidsLayer, Layer, PointsLayer, Scene, SurfaceLayer

LOD_POINTS = 150_000      # above this, orbiting draws a fixed random subset (software GL stays usable)


def hex_rgb(h: str) -> tuple[float, float, float]:
    h = h.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def lookup_table(scale: ColorScale) -> vtkLookupTable:
    """A VTK lookup table for a colour scale (the whole table set in one call, not 256)."""
    lut = vtkLookupTable()
    if scale.kind == "categorical":
        n = max(int(scale.clim[1]) + 1, len(scale.categories), 1)
        rgb = colormaps.categorical_colors(n, scale.cmap if scale.cmap in colormaps.CATEGORICAL else "")
        lo, hi = 0.0, float(n - 1)
    else:
        rgb = colormaps.table(scale.cmap)
        lo, hi = scale.clim
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    lut.SetNumberOfTableValues(len(rgba))
    lut.SetTable(numpy_to_vtk(np.ascontiguousarray(rgba), deep=True))
    lut.SetTableRange(lo, hi)
    if scale.log and lo > 0:
        lut.SetScaleToLog10()
    return lut


def _verts(n: int) -> vtkCellArray:
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(np.arange(n + 1, dtype=np.int64), deep=True),
                  numpy_to_vtkIdTypeArray(np.arange(n, dtype=np.int64), deep=True))
    return cells


def _polydata(points: np.ndarray) -> tuple[vtkPolyData, vtkPoints]:
    pts = vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float32), deep=True))
    pd = vtkPolyData()
    pd.SetPoints(pts)
    return pd, pts


def _copy_into(vtk_array, values: np.ndarray) -> None:
    """Write new values into an existing VTK array's memory (same size), then mark it modified."""
    view = vtk_to_numpy(vtk_array)
    view[...] = np.asarray(values).reshape(view.shape)
    vtk_array.Modified()


class LayerActor:
    """The VTK props of one layer. ``update`` changes values in place; ``rebuild`` is the caller's
    job when ``layer.shape_key()`` changes (see ``ViewContent``)."""

    def __init__(self, layer: Layer):
        self.shape_key = layer.shape_key()
        self.actor = vtkActor()
        self.mapper = vtkPolyDataMapper()
        self.actor.SetMapper(self.mapper)

    @property
    def props(self) -> list:
        return [self.actor]

    def update(self, layer: Layer, scene: Scene, offset: tuple) -> None:
        self.actor.SetVisibility(bool(layer.visible))
        self.actor.GetProperty().SetOpacity(float(layer.opacity))
        self.actor.SetPosition(*offset)

    def set_lod(self, on: bool) -> None:
        pass


# Screen-space spheres: VTK shades each point as a lit sphere, so its rim gets the ambient part only.
# A dense cloud is mostly rims (each sphere half hidden by its neighbours), and at 0.6 ambient
# a 10k-point cloud came out ~13 % darker than its colour, with a dark outline around every point.
# Mostly ambient keeps the colour true while the diffuse part still rounds each point.
SPHERE_AMBIENT, SPHERE_DIFFUSE = 0.8, 0.2

# World-space points (``PointsLayer.radius``): vtkPointGaussianMapper draws one camera-facing square
# per point, ``radius`` scene units across its half-width; this fragment code cuts it to a disc
# and darkens it a little towards the edge (the same 0.8..1 range as the spheres above) instead of
# the mapper's default Gaussian blur. ``offsetVCVSOutput`` is the fragment's offset from the
# point's centre in units of the radius when a custom shader is set.
SPLAT_DISC = """//VTK::Color::Impl
float d2 = dot(offsetVCVSOutput.xy, offsetVCVSOutput.xy);
if (d2 > 1.0) { discard; }
float shade = 0.8 + 0.2 * sqrt(1.0 - d2);
ambientColor *= shade;
diffuseColor *= shade;
"""


class PointsActor(LayerActor):
    def __init__(self, layer: PointsLayer):
        super().__init__(layer)
        self.pd, self.vpts = _polydata(layer.points)
        self.pd.SetVerts(_verts(layer.n))
        self.scalars = None
        self.mapper.SetInputData(self.pd)
        self.splat_mapper = None          # made when the layer first asks for a world-space radius
        self.lod_index = None
        if layer.n > LOD_POINTS:   # a fixed random subset drawn while the camera moves
            self.lod_index = np.sort(np.random.default_rng(0).choice(layer.n, LOD_POINTS, replace=False))
            self.lod_pd, self.lod_vpts = _polydata(layer.points[self.lod_index])
            self.lod_pd.SetVerts(_verts(LOD_POINTS))
            self.lod_scalars = None
        self._lod = False
        self._scale_key = None

    def set_lod(self, on: bool) -> None:
        if self.lod_index is not None:
            self._lod = bool(on)
            for m in (self.mapper, self.splat_mapper):
                if m is not None:
                    m.SetInputData(self.lod_pd if on else self.pd)

    def _splats(self):
        if self.splat_mapper is None:
            from vtkmodules.vtkRenderingCore import vtkPointGaussianMapper   # loaded on first use

            m = vtkPointGaussianMapper()
            m.SetInputData(self.lod_pd if self._lod else self.pd)
            m.SetSplatShaderCode(SPLAT_DISC)
            m.EmissiveOff()        # opaque discs that hide what is behind them, not glowing blobs
            self.splat_mapper = m
        return self.splat_mapper

    def _choose_mapper(self, layer: PointsLayer):
        """The mapper this layer is drawn with now: splats for a world-space radius, else points."""
        mapper = self._splats() if layer.radius > 0 else self.mapper
        if self.actor.GetMapper() is not mapper:
            self.actor.SetMapper(mapper)
            self._scale_key = None        # the lookup table lives on the mapper
        prop = self.actor.GetProperty()
        if mapper is self.mapper:
            prop.SetPointSize(float(layer.point_size))
            spheres = layer.style == "spheres"
            prop.SetRenderPointsAsSpheres(spheres)
            # Flat points show the colour map's exact colours; spheres get soft shading for depth.
            prop.SetAmbient(SPHERE_AMBIENT if spheres else 1.0)
            prop.SetDiffuse(SPHERE_DIFFUSE if spheres else 0.0)
        else:
            mapper.SetScaleFactor(float(layer.radius))
            prop.SetRenderPointsAsSpheres(False)
            prop.SetAmbient(1.0)          # the disc shader shades; lights would only grey it
            prop.SetDiffuse(0.0)
        prop.SetSpecular(0.0)
        return mapper

    def _set_scalars(self, values: np.ndarray | None) -> None:
        for pd, attr, idx in ((self.pd, "scalars", None),) + (
                ((self.lod_pd, "lod_scalars", self.lod_index),) if self.lod_index is not None else ()):
            if values is None:
                pd.GetPointData().SetScalars(None)
                setattr(self, attr, None)
                continue
            v = np.asarray(values)
            v = v if v.dtype == np.uint8 else v.astype(np.float32)   # uint8 (N,3): direct colours
            v = v if idx is None else v[idx]
            arr = getattr(self, attr)
            comps = v.shape[1] if v.ndim == 2 else 1
            if (arr is not None and arr.GetNumberOfTuples() == v.shape[0] and arr.GetNumberOfComponents() == comps
                    and vtk_to_numpy(arr).dtype == v.dtype):
                _copy_into(arr, v)
            else:
                arr = numpy_to_vtk(np.ascontiguousarray(v), deep=True)
                arr.SetName("scalars")
                pd.GetPointData().SetScalars(arr)
                setattr(self, attr, arr)
            pd.Modified()

    def update(self, layer: PointsLayer, scene: Scene, offset: tuple) -> None:
        super().update(layer, scene, offset)
        if not np.array_equal(vtk_to_numpy(self.vpts.GetData()), layer.points):
            _copy_into(self.vpts.GetData(), layer.points)
            self.vpts.Modified()
            if self.lod_index is not None:
                _copy_into(self.lod_vpts.GetData(), layer.points[self.lod_index])
                self.lod_vpts.Modified()
        mapper = self._choose_mapper(layer)
        prop = self.actor.GetProperty()
        if layer.shows_rgb():   # a scan's own colours, as they are: no lookup table, no colour bar
            self._set_scalars(layer.colors)
            self._scale_key = None
            mapper.SetScalarModeToUsePointData()
            mapper.SetColorModeToDirectScalars()
            mapper.ScalarVisibilityOn()
            return
        s = layer.active_scalar()
        if s is None or s.values.shape[0] != layer.n:
            self._set_scalars(None)
            mapper.ScalarVisibilityOff()
            prop.SetColor(*hex_rgb(layer.color))
            return
        self._set_scalars(scene.colour_values(layer))
        scale = scene.scale_of(layer)
        key = (scale.cmap, scale.kind, scale.clim, len(scale.categories), scale.log)
        if key != self._scale_key:
            mapper.SetLookupTable(lookup_table(scale))
            mapper.SetScalarRange(*scale.clim)
            mapper.SetUseLookupTableScalarRange(False)
            self._scale_key = key
        mapper.SetScalarModeToUsePointData()
        mapper.SetColorModeToMapScalars()
        mapper.ScalarVisibilityOn()


class EllipsoidsActor(LayerActor):
    def __init__(self, layer: EllipsoidsLayer):
        super().__init__(layer)
        from vtkmodules.vtkFiltersCore import vtkPolyDataNormals   # filters load on first use
        from vtkmodules.vtkFiltersSources import vtkSphereSource

        src = vtkSphereSource()
        src.SetThetaResolution(layer.resolution)
        src.SetPhiResolution(max(4, layer.resolution * 3 // 4))
        src.SetRadius(1.0)
        src.Update()
        out = src.GetOutput()
        self.unit = vtk_to_numpy(out.GetPoints().GetData()).astype(np.float64)
        tris = vtk_to_numpy(out.GetPolys().GetConnectivityArray()).reshape(-1, 3)
        k, v = len(layer.centres), len(self.unit)
        faces = (tris[None, :, :] + (np.arange(k) * v)[:, None, None]).reshape(-1, 3)
        self.pd, self.vpts = _polydata(self._points(layer))
        polys = vtkCellArray()
        polys.SetData(numpy_to_vtkIdTypeArray(np.arange(0, faces.size + 1, 3, dtype=np.int64), deep=True),
                      numpy_to_vtkIdTypeArray(faces.reshape(-1).astype(np.int64), deep=True))
        self.pd.SetPolys(polys)
        self.colors = numpy_to_vtk(self._colors(layer), deep=True)
        self.colors.SetName("colors")
        self.pd.GetPointData().SetScalars(self.colors)
        normals = vtkPolyDataNormals()
        normals.SetInputData(self.pd)
        self.mapper.SetInputConnection(normals.GetOutputPort())
        self.mapper.SetColorModeToDirectScalars()
        self.normals = normals

    def _points(self, layer: EllipsoidsLayer) -> np.ndarray:
        # point j of ellipsoid k: c_k + A_k u_j  (A's columns are the semi-axes)
        return (layer.centres[:, None, :] + np.einsum("kij,vj->kvi", layer.axes, self.unit)).reshape(-1, 3)

    def _colors(self, layer: EllipsoidsLayer) -> np.ndarray:
        k = len(layer.centres)
        cols = layer.colors if layer.colors is not None else colormaps.categorical_colors(k)
        return np.repeat(np.asarray(cols, dtype=np.uint8).reshape(k, 3), len(self.unit), axis=0)

    def update(self, layer: EllipsoidsLayer, scene: Scene, offset: tuple) -> None:
        super().update(layer, scene, offset)
        _copy_into(self.vpts.GetData(), self._points(layer))
        self.vpts.Modified()
        _copy_into(self.colors, self._colors(layer))
        self.pd.Modified()


class SurfaceActor(LayerActor):
    def __init__(self, layer: SurfaceLayer):
        super().__init__(layer)
        from vtkmodules.vtkFiltersCore import vtkPolyDataNormals

        self.pd, self.vpts = _polydata(layer.vertices)
        f = layer.faces.astype(np.int64)
        polys = vtkCellArray()
        polys.SetData(numpy_to_vtkIdTypeArray(np.arange(0, f.size + 1, 3, dtype=np.int64), deep=True),
                      numpy_to_vtkIdTypeArray(f.reshape(-1), deep=True))
        self.pd.SetPolys(polys)
        self.normals = vtkPolyDataNormals()
        self.normals.SetInputData(self.pd)
        self.mapper.SetInputConnection(self.normals.GetOutputPort())
        self.mapper.ScalarVisibilityOff()
        # Points sampled ON the surface (a mesh under its sample) would fight it for depth:
        # push the triangles back a little so coincident points always win.
        self.mapper.SetRelativeCoincidentTopologyPolygonOffsetParameters(1.0, 2.0)

    def update(self, layer: SurfaceLayer, scene: Scene, offset: tuple) -> None:
        super().update(layer, scene, offset)
        _copy_into(self.vpts.GetData(), layer.vertices)
        self.vpts.Modified()
        self.pd.Modified()
        self.actor.GetProperty().SetColor(*hex_rgb(layer.color))


class ArrowsActor(LayerActor):
    def __init__(self, layer: ArrowsLayer):
        super().__init__(layer)
        from vtkmodules.vtkFiltersCore import vtkGlyph3D
        from vtkmodules.vtkFiltersSources import vtkArrowSource, vtkLineSource

        self.pd, self.vpts = _polydata(layer.origins)
        self.vec = numpy_to_vtk(np.ascontiguousarray(layer.vectors, dtype=np.float32), deep=True)
        self.vec.SetName("vectors")
        self.pd.GetPointData().SetVectors(self.vec)
        self.glyph = vtkGlyph3D()
        if layer.glyph == "line":   # a unit segment along +x, as the arrow source is: 2 vertices a glyph
            self.arrow = vtkLineSource()
            self.arrow.SetPoint1(0.0, 0.0, 0.0)
            self.arrow.SetPoint2(1.0, 0.0, 0.0)
        else:
            self.arrow = vtkArrowSource()   # kept: a temporary source is freed under the glyph (segfault)
        self.glyph.SetSourceConnection(self.arrow.GetOutputPort())
        self.glyph.SetInputData(self.pd)
        self.glyph.SetVectorModeToUseVector()
        self.glyph.SetScaleModeToScaleByVector()
        self.glyph.OrientOn()
        self.mapper.SetInputConnection(self.glyph.GetOutputPort())
        self.mapper.ScalarVisibilityOff()

    def update(self, layer: ArrowsLayer, scene: Scene, offset: tuple) -> None:
        super().update(layer, scene, offset)
        _copy_into(self.vpts.GetData(), layer.origins)
        self.vpts.Modified()
        _copy_into(self.vec, layer.vectors)
        self.pd.Modified()
        self.glyph.SetScaleFactor(float(layer.scale))
        self.actor.GetProperty().SetColor(*hex_rgb(layer.color))
        if layer.glyph == "line":   # segments have no surface to shade: their colour as it is
            self.actor.GetProperty().LightingOff()
            self.actor.GetProperty().SetLineWidth(1.5)


ACTORS = {PointsLayer: PointsActor, EllipsoidsLayer: EllipsoidsActor, SurfaceLayer: SurfaceActor,
          ArrowsLayer: ArrowsActor}


def make_actor(layer: Layer) -> LayerActor:
    return ACTORS[type(layer)](layer)


def _square(rgb) -> vtkPolyData:
    """A unit square swatch whose one cell carries the colour ``rgb`` (uint8)."""
    pd, _ = _polydata(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32))
    polys = vtkCellArray()
    polys.SetData(numpy_to_vtkIdTypeArray(np.array([0, 4], np.int64), deep=True),
                  numpy_to_vtkIdTypeArray(np.arange(4, dtype=np.int64), deep=True))
    pd.SetPolys(polys)
    colours = numpy_to_vtk(np.asarray(rgb, np.uint8).reshape(1, 3), deep=True)
    pd.GetCellData().SetScalars(colours)
    return pd


class CubeOutline:
    """A light-grey wireframe box in one renderer (Flow AM's legal cube [-C, C]^3, for scale).

    Not a layer: it belongs to the view that shows it (thumbnails, linked views), is not
    pickable and is not part of the scene, so it never reaches a colour bar or a caption."""

    def __init__(self, renderer, bounds):
        from vtkmodules.vtkFiltersSources import vtkCubeSource   # imported on first use: GUI start-up

        self.renderer = renderer
        self.source = vtkCubeSource()       # kept with the actor: the mapper reads it on each render
        self.source.SetBounds(*bounds)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(self.source.GetOutputPort())
        self.actor = vtkActor()
        self.actor.SetMapper(mapper)
        prop = self.actor.GetProperty()
        prop.SetRepresentationToWireframe()
        prop.SetColor(0.72, 0.72, 0.72)
        prop.SetLineWidth(1.0)
        prop.LightingOff()
        self.actor.PickableOff()
        renderer.AddActor(self.actor)

    def set_bounds(self, bounds) -> None:
        self.source.SetBounds(*bounds)

    def set_visible(self, on: bool) -> None:
        self.actor.SetVisibility(bool(on))

    def remove(self) -> None:
        self.renderer.RemoveActor(self.actor)


def cube_bounds(limit: float) -> tuple[float, ...]:
    """(xmin, xmax, ymin, ymax, zmin, zmax) of the cube [-limit, limit]^3."""
    c = float(limit)
    return (-c, c, -c, c, -c, c)
