"""PointLens viewer: PySide6 + pyvista. Reaches torch only through the engine."""
