"""Starting the process group for tools/train.py and tools/test.py, with or without GPUs."""
import os

import torch
from mmengine.config import Config
from mmengine.dist import init_dist, init_local_group


def init_distributed(cfg: Config, launcher: str) -> None:
    """Start the process group before the Runner (which then skips its own ``init_dist``).

    With GPUs: MMEngine's ``init_dist`` with the config's ``env_cfg.dist_cfg``. Without GPUs
    (only ``--launcher pytorch``, i.e. torchrun): a gloo process group from torchrun's
    environment, since ``init_dist`` calls ``torch.cuda.set_device``; and, unless the config
    sets ``model_wrapper_cfg``, a DistributedDataParallel wrapper without ``device_ids``
    (the Runner's default passes the local rank as a GPU id).

    On one machine it also creates MMEngine's local process group, so that
    ``mmengine.dist.get_local_rank()`` works (``ZSLSynthetic`` uses it to generate the data
    once per machine); ``init_dist`` does not create it.
    """
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    if torch.cuda.is_available():
        init_dist(launcher, **dist_cfg)
        _init_local_group()
        return
    if launcher != 'pytorch':
        raise SystemExit(f'--launcher {launcher} needs GPUs; on a machine without GPUs use '
                         'tools/dist_train.sh or tools/dist_test.sh (torchrun, --launcher '
                         'pytorch, gloo backend)')
    dist_cfg['backend'] = 'gloo'
    cfg.env_cfg = dict(cfg.get('env_cfg', {}), dist_cfg=dist_cfg)
    torch.distributed.init_process_group(backend='gloo')
    _init_local_group()
    if not cfg.get('model_wrapper_cfg'):
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                     broadcast_buffers=False)


def _init_local_group() -> None:
    """MMEngine's local process group when all processes run on this machine."""
    world = torch.distributed.get_world_size()
    local = int(os.environ.get('LOCAL_WORLD_SIZE', world))
    if local == world:
        init_local_group(0, world)
