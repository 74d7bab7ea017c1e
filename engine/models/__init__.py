"""Models. Each module below registers its models in ``engine.registry.MODELS`` on import."""
from . import pointnet  # noqa: F401

from .base import PointModel, build_model, scaled  # noqa: F401
from .taps import tap  # noqa: F401
from . import pointmask  # noqa: F401
from . import parae  # noqa: F401
from . import serp_pointnet, serp_transformer, vasp  # noqa: F401
