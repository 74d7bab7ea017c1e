"""Every model architecture, imported by name: each module registers its models in MODELS.

Checkpoint loading and training need the models without the methods, so the model list lives
here and ``engine.catalog`` imports it with the methods.
"""
import engine.models.dgcnn  # noqa: F401
import engine.models.parae  # noqa: F401
import engine.models.pointmask  # noqa: F401
import engine.models.pointnet  # noqa: F401
import engine.models.pointnet2  # noqa: F401
import engine.models.serp_pointnet  # noqa: F401
import engine.models.serp_transformer  # noqa: F401
import engine.models.vasp  # noqa: F401
from engine.models.base import build_model  # noqa: F401,E402 - every model is registered by now
