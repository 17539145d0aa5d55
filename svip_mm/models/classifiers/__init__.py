from .keep_sets import LearnedKeepSets, reselect_by_prototype
from .oracle_keep_sets import OracleKeepSets
from .svip_classifier import SVIPClassifier

__all__ = ['LearnedKeepSets', 'OracleKeepSets', 'SVIPClassifier', 'reselect_by_prototype']
