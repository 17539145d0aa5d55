"""svip_mm: SVIP zero-shot learning as MMEngine / MMPretrain components.

What ``import svip_mm`` changes in the process (the one list of it; the README repeats it):

1. It registers svip_mm's components in mmpretrain's registries (``MODELS``, ``DATASETS``,
   ``METRICS``, ``TRANSFORMS``, ``HOOKS``, the optimizer-wrapper registries), so a config with
   ``default_scope='mmpretrain'`` and ``custom_imports=dict(imports=['svip_mm'],
   allow_failed_imports=False)`` can name them. Nothing registered before is replaced.
2. It replaces the loader of every checkpoint scheme of MMEngine's ``CheckpointLoader`` (local
   paths, ``http(s)://``, ``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` /
   ``openmmlab://``, ``mmcls://``, ``pavi://``, ``s3://`` / ``petrel://``) with svip_mm's safe
   reader (``svip_mm.engine.safe_checkpoint``). Why: MMEngine's own loaders unpickle with the
   full unpickler, so a crafted checkpoint or a poisoned download cache would run code. This
   holds for every ``load_from``, ``resume`` and ``init_cfg`` of the process, svip_mm's or not.
3. It registers one more MMEngine file backend, ``svip_atomic_local`` (checkpoints written whole
   or not at all, ``svip_mm.engine.atomic_backend``); the existing backends are unchanged.
4. It hides one warning: mmcv-lite, which has no compiled ops, warns on every import of
   mmpretrain that ``MultiScaleDeformableAttention`` is missing; svip_mm never uses it.

It changes nothing in torch: nothing is added to torch's process-wide allow-list of the safe
unpickler (the legacy allowances of :func:`svip_mm.utils.load_checkpoint_file` hold for its own
call only), and no torch setting is touched until a hook that says so runs.
"""
import warnings

# (4) above: mmcv-lite's warning about its missing compiled op
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``',
                        category=UserWarning)

from .version import __version__  # noqa: E402
from . import engine  # noqa: F401  (first: (2) and (3) above)
from . import models  # noqa: F401
from . import datasets  # noqa: F401
from . import evaluation  # noqa: F401
from . import embeddings  # noqa: F401
from . import visualization  # noqa: F401  (registers SVIPVisualizationHook)
from . import apis  # noqa: F401

__all__ = ['__version__']
