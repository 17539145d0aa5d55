"""svip_mm: SVIP zero-shot learning as MMEngine / MMPretrain components.

Importing the package registers every component into mmpretrain's registries
(``mmpretrain.registry.MODELS``, ``DATASETS``, ``METRICS``, ``TRANSFORMS``, ``HOOKS``), so a
config with ``default_scope='mmpretrain'`` and
``custom_imports=dict(imports=['svip_mm'], allow_failed_imports=False)`` can name them.
It also makes MMEngine's loader for local checkpoint files read them with torch's safe
unpickler only, without adding anything to torch's process-wide allow-list
(see :mod:`svip_mm.utils.safe_checkpoint`).
"""
import warnings

# mmcv-lite has no compiled ops, so mmpretrain's import of mmcv's transformer bricks warns on
# every command that MultiScaleDeformableAttention is missing; svip_mm never uses it
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``',
                        category=UserWarning)

from .version import __version__  # noqa: E402
from . import engine  # noqa: F401  (first: the safe checkpoint loader)
from . import models  # noqa: F401
from . import datasets  # noqa: F401
from . import evaluation  # noqa: F401
from . import embeddings  # noqa: F401
from . import visualization  # noqa: F401  (registers SVIPVisualizationHook)
from . import apis  # noqa: F401

__all__ = ['__version__']
