from .attention_aggregation import (aggregate_cls_attention, attention_rollout,
                                    last_layer_attention, paper_rollout)
from .semantic_patch_selector import SemanticPatchSelector

__all__ = ['SemanticPatchSelector', 'aggregate_cls_attention', 'attention_rollout',
           'last_layer_attention', 'paper_rollout']
