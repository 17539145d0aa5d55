from .svip_classifier import SVIPClassifier, reselect_by_prototype

__all__ = ['SVIPClassifier', 'reselect_by_prototype']
