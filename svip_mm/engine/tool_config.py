"""The config handling that tools/train.py and tools/test.py share."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_tool_config(config: str, cfg_options: Optional[dict], launcher: str,
                     work_dir: Optional[str]) -> Config:
    """Read ``config``, apply ``--cfg-options``, and set the launcher and the work dir
    (``--work-dir``, else the config's, else ``work_dirs/<config name>``)."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir:
        cfg.work_dir = work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    use_svip_checkpoint_hook(cfg)
    return cfg


def use_svip_checkpoint_hook(cfg: Config) -> None:
    """Swap MMEngine's plain ``CheckpointHook`` of a config (an mmpretrain one, say) for
    :class:`~svip_mm.engine.SVIPCheckpointHook` with the same arguments, so that the tools
    load strictly, never overwrite another run's checkpoints and write safe-to-load files."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook is not None and hook.get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
        hook['type'] = 'SVIPCheckpointHook'
