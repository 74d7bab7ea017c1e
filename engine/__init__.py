"""PointLens engine: data, models, methods and training. Headless: never imports Qt or VTK.

Importing ``engine`` is cheap (no torch); torch-backed parts load when first used, so the
viewer can start drawing before torch has finished importing on the engine thread.
"""
__version__ = "0.1.0"
