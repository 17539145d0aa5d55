"""svip_mm.datasets: xlsa17-format ZSL datasets (CUB, AwA2, SUN, any dataset in the format).

Importing registers ``ZSLXlsa17Dataset``, ``ZSLCUB``, ``ZSLAWA2`` and ``ZSLSUN`` and the generated
``ZSLSynthetic`` in ``mmpretrain.registry.DATASETS``.
"""
from .attribute_groups import (AWA2_GROUPS, AWA2_GROUPS_RELEASED, AWA2_PREDICATES,
                               SUN_ATTRIBUTES, SUN_GROUPS, SUN_GROUPS_RELEASED, group_ids,
                               groups_from_prefix, resolve_attribute_groups)
from .attribute_names import read_attribute_names
from .check import CheckReport, check_xlsa17
from .synthetic_dataset import ZSLSynthetic, default_synthetic_root
from .synthetic_zsl import ensure_synthetic_zsl, generate_synthetic_zsl
from .transforms import LoadForegroundMask, MaskBackgroundUnits
from .xlsa17 import ZSLAWA2, ZSLCUB, ZSLSUN, ZSLXlsa17Dataset
from .xlsa17_format import (SPLITS, Xlsa17Annotations, Xlsa17FormatError, load_xlsa17,
                            map_image_path)

__all__ = [
    'LoadForegroundMask', 'MaskBackgroundUnits', 'ZSLSynthetic', 'default_synthetic_root',
    'ensure_synthetic_zsl', 'generate_synthetic_zsl',
    'ZSLXlsa17Dataset', 'ZSLCUB', 'ZSLAWA2', 'ZSLSUN', 'SPLITS', 'Xlsa17Annotations',
    'Xlsa17FormatError', 'load_xlsa17', 'map_image_path', 'CheckReport', 'check_xlsa17',
    'read_attribute_names', 'resolve_attribute_groups', 'groups_from_prefix', 'group_ids',
    'AWA2_PREDICATES', 'AWA2_GROUPS', 'AWA2_GROUPS_RELEASED', 'SUN_ATTRIBUTES', 'SUN_GROUPS',
    'SUN_GROUPS_RELEASED'
]
