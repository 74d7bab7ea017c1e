"""numpy-only helpers (no torch): the GUI thread imports these directly for instant redraws.

``gmm_geometry``: density grids, isosurfaces and 1-sigma ellipsoids of a Gaussian mixture (ParAE);
``mix_blend``: SageMix's blend weights for the sigma / pi sliders. import-linter keeps torch out.
"""
