from .attention_aggregation import (aggregate_cls_attention, attention_rollout,
                                    last_layer_attention, paper_rollout)
from .semantic_context_token import ContextTokenMixin, SemanticContextToken, read_word_vectors
from .semantic_patch_selector import SemanticPatchSelector

__all__ = ['ContextTokenMixin', 'SemanticContextToken', 'SemanticPatchSelector',
           'aggregate_cls_attention', 'attention_rollout', 'last_layer_attention',
           'paper_rollout', 'read_word_vectors']
