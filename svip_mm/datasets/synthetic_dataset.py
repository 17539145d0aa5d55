"""``ZSLSynthetic``: the synthetic ZSL dataset, generated on first use, read as xlsa17.

The data is written by :func:`svip_mm.datasets.ensure_synthetic_zsl` when the
folder is absent (a dataset already there is read as it is, files missing from it are written
again, and one made with other parameters than the config gives is refused, never replaced
unless ``on_mismatch='regenerate'``) and then read by the generic
:class:`~svip_mm.datasets.xlsa17.ZSLXlsa17Dataset`, so the default job goes through the same
loading path as CUB, AwA2 and SUN. Each data info additionally carries ``fg_mask_path``,
the ground-truth foreground mask of the image (an 'L' PNG, 255 = object), for measuring patch
selection.

Config example::

    train_dataloader = dict(dataset=dict(
        type='ZSLSynthetic', data_root='data/synthetic_zsl', split='trainval',
        clutter=True, seed=0, pipeline=train_pipeline))
"""
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Union

from mmengine.dist import barrier, get_dist_info
from mmpretrain.registry import DATASETS

from .synthetic_zsl import ATTRIBUTES_FILE, ensure_synthetic_zsl, load_synthetic_meta
from .xlsa17 import ZSLXlsa17Dataset

__all__ = ['ZSLSynthetic', 'default_synthetic_root']


def default_synthetic_root(preset: Optional[str] = 'default', seed: Optional[int] = 0,
                           clutter: Optional[bool] = True) -> str:
    """The folder used when no ``data_root`` is given, distinct per variant.

    ``data/synthetic_zsl`` for the default preset, seed 0 and clutter (None counts as the
    default); otherwise suffixed, e.g. ``data/synthetic_zsl_large_seed3_clean``.
    """
    name = 'data/synthetic_zsl'
    if preset not in (None, 'default'):
        name += f'_{preset}'
    if seed not in (None, 0):
        name += f'_seed{seed}'
    if clutter is False:
        name += '_clean'
    return name


@DATASETS.register_module()
class ZSLSynthetic(ZSLXlsa17Dataset):
    """The synthetic ZSL dataset (:func:`~svip_mm.datasets.generate_synthetic_zsl`), made if absent.

    Args:
        data_root: where the dataset lives (generated there if absent). ``None``:
            :func:`default_synthetic_root` of the variant.
        split: as in :class:`ZSLXlsa17Dataset` (``trainval``, ``train``, ``val``,
            ``test_seen``, ``test_unseen``, ``test``).
        preset, seed, image_size, clutter: the generator's parameters (see
            :func:`~svip_mm.datasets.generate_synthetic_zsl`); None (default):
            not given, i.e. whatever the folder's dataset records, or the preset default
            (``'default'``, 0, 64, True) when it is generated.
        generator_overrides: further generator parameters, e.g. ``dict(images_per_class=16)``;
            likewise only these are checked against an existing dataset.
        on_mismatch: ``'raise'`` (default): a dataset in ``data_root`` that differs from a
            given parameter is refused with :class:`FileExistsError` listing the differences
            (it is never replaced). ``'regenerate'``: it is replaced by the dataset of the
            given parameters, the others at their defaults; only the generator's own files
            are deleted, and a folder holding other files is refused. See
            :func:`~svip_mm.datasets.ensure_synthetic_zsl`.
        workers: rendering processes when generating.
        mask_prefix: the mask folder under ``data_root`` (mirrors the image folder).
        expected_counts: ``'default'`` checks the files against the counts recorded by the
            generator; a dict or ``None`` as in :class:`ZSLXlsa17Dataset`.
        **kwargs: the other arguments of :class:`ZSLXlsa17Dataset` (``pipeline``,
            ``test_mode``, ...).

    In a distributed run the first process of every node generates while the others wait, so
    the files are written once per (shared or local) file system.
    """

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'trainval',
                 preset: Optional[str] = None,
                 seed: Optional[int] = None,
                 image_size: Optional[int] = None,
                 clutter: Optional[bool] = None,
                 generator_overrides: Optional[Dict[str, Any]] = None,
                 on_mismatch: str = 'raise',
                 workers: int = 1,
                 mask_prefix: str = 'masks',
                 expected_counts: Union[str, dict, None] = 'default',
                 attribute_names_file: Optional[str] = ATTRIBUTES_FILE,
                 attribute_groups: Union[str, list, dict] = 'prefix',
                 **kwargs):
        if data_root is None:
            data_root = default_synthetic_root(preset, seed, clutter)
        gen_args = dict(preset=preset, seed=seed, image_size=image_size, clutter=clutter,
                        workers=workers, on_mismatch=on_mismatch,
                        **(generator_overrides or {}))
        _, world_size = get_dist_info()
        if world_size > 1:
            # torchrun's LOCAL_RANK: MMEngine's local group is not always created
            if int(os.environ.get('LOCAL_RANK', 0)) == 0:
                ensure_synthetic_zsl(data_root, **gen_args)
            barrier()
        ensure_synthetic_zsl(data_root, **gen_args)
        self.generator_meta = load_synthetic_meta(data_root)
        if expected_counts == 'default':
            c = self.generator_meta['counts']
            expected_counts = dict(
                num_images=c['images'], num_classes=c['classes'], num_seen=c['seen_classes'],
                num_unseen=c['unseen_classes'], num_attributes=c['attributes'],
                trainval=c['trainval_loc'], test_seen=c['test_seen_loc'],
                test_unseen=c['test_unseen_loc'])
        self.mask_prefix = mask_prefix
        super().__init__(data_root=data_root, split=split,
                         attribute_names_file=attribute_names_file,
                         attribute_groups=attribute_groups, expected_counts=expected_counts,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        """The xlsa17 data infos plus ``fg_mask_path`` (the image's path under the masks)."""
        data_list = super().load_data_list()
        mask_root = self._rooted(self.mask_prefix)
        img_root = self.img_prefix
        for info in data_list:
            info['fg_mask_path'] = osp.join(mask_root, osp.relpath(info['img_path'], img_root))
        if self.check_images:
            absent = [i['fg_mask_path'] for i in data_list if not osp.isfile(i['fg_mask_path'])]
            if absent:
                raise FileNotFoundError(
                    f'{len(absent)} foreground masks of split {self.split!r} are absent, e.g. '
                    f'{absent[:3]}; expected one mask per image under {mask_root} '
                    f'(mask_prefix={self.mask_prefix!r})')
        self._metainfo['fg_mask_root'] = mask_root
        return data_list

    def extra_repr(self) -> List[str]:
        p = self.generator_meta['params']
        return super().extra_repr() + [
            f"Synthetic: \tpreset {p['preset']}, seed {p['seed']}, {p['image_size']} px, "
            f"clutter {'on' if p['clutter'] else 'off'}"
        ]
