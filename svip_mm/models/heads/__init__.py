from .semantic_attribute_head import SemanticAttributeHead, tokens_to_patch_grid

__all__ = ['SemanticAttributeHead', 'tokens_to_patch_grid']
