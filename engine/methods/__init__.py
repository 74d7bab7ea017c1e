"""Methods. Each module below registers its methods in ``engine.registry.METHODS`` on import."""
from . import inspect  # noqa: F401
