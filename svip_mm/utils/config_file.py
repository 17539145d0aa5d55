"""Read a config file for a tool, with one clear message when the path is wrong."""
import os
import os.path as osp
from typing import Union

from mmengine.config import Config


def read_config(path: Union[str, os.PathLike]) -> Config:
    """``Config.fromfile(path)``, or :class:`FileNotFoundError` naming the path and what was
    expected (Python's own ``[Errno 2]`` text names neither the role of the file nor the kind
    of file wanted)."""
    if osp.isdir(path):
        raise FileNotFoundError(f'config {path} is a folder: expected a config file such as '
                                'configs/svip_vit_synthetic.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path} (expected a config file such as '
                                'configs/svip_vit_synthetic.py)')
    return Config.fromfile(path)
