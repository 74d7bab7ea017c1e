"""Methods. Each module below registers its methods in ``engine.registry.METHODS`` on import."""
from . import inspect  # noqa: F401
from . import serp_explain  # noqa: F401
from . import parae_explain  # noqa: F401
from . import probe  # noqa: F401
from . import flowam, flowam_layers, flowam_sanity  # noqa: F401
from .. import evaluate, train  # noqa: F401  (core: the train and evaluate methods)
from . import pointmask_explain, bias_lab  # noqa: F401
from . import finetune_compare  # noqa: F401
from . import mix_method, mix_augment, robustness  # noqa: F401  (sagemix: mix, robustness; augmentations)
