from .interfaces import (SVIPBackbone, SVIPHead, SVIPSelectorNeck, check_interface,
                         interface_members, missing_members)
from .keep_sets import LearnedKeepSets, reselect_by_prototype
from .oracle_keep_sets import OracleKeepSets
from .svip_classifier import SVIPClassifier

__all__ = ['LearnedKeepSets', 'OracleKeepSets', 'SVIPBackbone', 'SVIPClassifier', 'SVIPHead',
           'SVIPSelectorNeck', 'check_interface', 'interface_members', 'missing_members',
           'reselect_by_prototype']
