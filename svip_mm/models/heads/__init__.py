from .apn_head import APNHead
from .class_table import ClassTableMixin
from .semantic_attribute_head import SemanticAttributeHead, tokens_to_patch_grid
from .transzero_head import TransZeroHead
from .zsl_head import ZSLHead, ZSLHeadMixin, has_attribute_maps

__all__ = ['APNHead', 'ClassTableMixin', 'SemanticAttributeHead', 'tokens_to_patch_grid',
           'TransZeroHead', 'ZSLHead', 'ZSLHeadMixin', 'has_attribute_maps']
