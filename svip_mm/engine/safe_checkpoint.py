"""MMEngine reads every checkpoint, local or named by URL, with svip_mm's safe reader.

MMEngine's ``CheckpointLoader`` picks a loader by the name's prefix: local paths, ``http(s)://``
URLs, ``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` / ``openmmlab://`` and
``mmcls://`` model names, ``pavi://`` and ``s3://`` / ``petrel://``. Its own loaders end in
``torch.load`` or ``torch.hub.load_state_dict_from_url``, whose unpickler runs whatever a
file (or the download cache) holds. :func:`use_safe_loader_in_mmengine` (called on
``import svip_mm``) replaces every one of them: names are resolved to a URL or a file the way
MMEngine resolves them (its own model tables), URLs are downloaded into, or found in,
torch.hub's checkpoint cache, and the file is read by :func:`load_checkpoint_file`. A scheme
that another package registered before is refused rather than left with its own loader.

The reader itself (:func:`load_checkpoint_file`, :func:`load_weights_file`, the errors and
the legacy allow-list) lives in :mod:`svip_mm.utils.safe_checkpoint`, so that model code can
use it without importing the engine.
"""
import logging
import os.path as osp
import tempfile
from typing import Any, Callable, Dict

import torch
from mmengine.dist import get_dist_info
from mmengine.logging import print_log

from ..utils.safe_checkpoint import (CheckpointReadError, load_checkpoint_file,
                                     load_url_checkpoint)


def safe_load_local(filename: str, map_location: Any = None) -> Any:
    return load_checkpoint_file(filename, map_location=map_location)


def safe_load_http(filename: str, map_location: Any = None, model_dir: str = None,
                          progress: bool = False) -> Any:
    """A URL: rank 0 downloads it into the cache first, then the other ranks read it there
    (as MMEngine's ``load_from_http`` does)."""
    rank, world_size = get_dist_info()
    checkpoint = None
    if rank == 0:
        checkpoint = load_url_checkpoint(filename, map_location, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load_url_checkpoint(filename, map_location, model_dir, progress)
    return checkpoint


def _model_url(filename: str, prefix: str, table: Dict[str, str], source: str) -> str:
    name = filename[len(prefix):]
    if name not in table:
        raise CheckpointReadError(f'{filename!r}: {source} names no model {name!r} (MMEngine '
                                  f'knows {len(table)} names there)')
    return table[name]


def safe_load_torchvision(filename: str, map_location: Any = None) -> Any:
    from mmengine.runner.checkpoint import get_torchvision_models
    prefix = 'modelzoo://' if filename.startswith('modelzoo://') else 'torchvision://'
    url = _model_url(filename, prefix, get_torchvision_models(), "torchvision's model table")
    return safe_load_http(url, map_location)


def safe_load_openmmlab(filename: str, map_location: Any = None) -> Any:
    from mmengine.runner.checkpoint import (_get_mmengine_home, get_deprecated_model_names,
                                            get_external_models)
    prefix = 'open-mmlab://' if filename.startswith('open-mmlab://') else 'openmmlab://'
    name = filename[len(prefix):]
    renamed = get_deprecated_model_names().get(name)
    if renamed is not None:
        print_log(f'{prefix}{name} is deprecated in favor of {prefix}{renamed}',
                  logger='current', level=logging.WARNING)
        filename = prefix + renamed
    target = _model_url(filename, prefix, get_external_models(), "MMEngine's open-mmlab table")
    if target.startswith(('http://', 'https://')):
        return safe_load_http(target, map_location)
    return load_checkpoint_file(osp.join(_get_mmengine_home(), target), map_location)


def safe_load_mmcls(filename: str, map_location: Any = None) -> Any:
    from mmengine.runner.checkpoint import _process_mmcls_checkpoint, get_mmcls_models
    url = _model_url(filename, 'mmcls://', get_mmcls_models(), "MMEngine's mmcls table")
    return _process_mmcls_checkpoint(safe_load_http(url, map_location))


def _read_downloaded(filename: str, download: Callable[[str], None],
                     map_location: Any) -> Any:
    """Download into a temporary file (``download(path)``), then read it safely."""
    with tempfile.TemporaryDirectory() as folder:
        path = osp.join(folder, osp.basename(filename.rstrip('/')) or 'checkpoint.pth')
        download(path)
        try:
            return load_checkpoint_file(path, map_location=map_location)
        except CheckpointReadError as err:
            raise type(err)(f'{filename}: {err}') from None


def safe_load_pavi(filename: str, map_location: Any = None) -> Any:
    from pavi import modelcloud  # MMEngine's loader needs it too
    model = modelcloud.get(filename[len('pavi://'):])
    return _read_downloaded(filename, model.download, map_location)


def safe_load_ceph(filename: str, map_location: Any = None) -> Any:
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(filename, backend_args={'backend': 'petrel'})

    def download(path: str) -> None:
        with open(path, 'wb') as f:
            f.write(backend.get(filename))
    return _read_downloaded(filename, download, map_location)


# every prefix MMEngine 0.10 registers, and svip_mm's loader for it
_LOADERS = {
    '': safe_load_local,
    'http://': safe_load_http, 'https://': safe_load_http,
    'modelzoo://': safe_load_torchvision, 'torchvision://': safe_load_torchvision,
    'open-mmlab://': safe_load_openmmlab, 'openmmlab://': safe_load_openmmlab,
    'mmcls://': safe_load_mmcls,
    'pavi://': safe_load_pavi,
    r'(\S+\:)?s3://': safe_load_ceph, r'(\S+\:)?petrel://': safe_load_ceph,
}


def _refusing_loader(prefix: str, owner: str) -> Callable:
    def safe_load_refused(filename: str, map_location: Any = None) -> Any:
        raise CheckpointReadError(
            f'{filename!r}: svip_mm has no safe reader for checkpoints named with the '
            f'{prefix!r} scheme (registered with MMEngine by {owner}); download the file and '
            'give its local path')
    return safe_load_refused


def use_safe_loader_in_mmengine() -> None:
    """Make svip_mm's safe reader MMEngine's loader for every registered scheme (idempotent).

    A scheme svip_mm does not know (registered by another package) gets a loader that
    refuses it with a message, so no checkpoint name reaches an unsafe ``torch.load``.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if prefix not in _LOADERS and not loader.__module__.startswith(__name__):
            CheckpointLoader.register_scheme(
                prefixes=prefix, loader=_refusing_loader(prefix, loader.__module__),
                force=True)
    for prefix, loader in _LOADERS.items():
        CheckpointLoader.register_scheme(prefixes=prefix, loader=loader, force=True)
