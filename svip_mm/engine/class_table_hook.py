"""Hands the dataset's class table (attributes, seen classes, groups) to the model's head."""

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ..utils.finite import check_finite

REQUIRED_KEYS = ('class_attributes', 'seen_classes')


@HOOKS.register_module()
class ZSLClassTableHook(Hook):
    """Copy ``class_attributes``, ``seen_classes`` and ``attribute_group_ids`` from the
    dataset metainfo into the attribute head before training, validation and testing.

    The model is built before any dataset, so the class table cannot be a constructor
    argument of a config that reads the data; this hook closes that gap, and checks that the
    dataset and the model agree on the number of classes and attributes.

    Args:
        head_attr: attribute path of the head on the (unwrapped) model.
    """
    priority = 'VERY_HIGH'

    def __init__(self, head_attr: str = 'head'):
        self.head_attr = head_attr

    def _apply(self, runner, dataloader) -> None:
        dataset = getattr(dataloader, 'dataset', None)
        meta = getattr(dataset, 'metainfo', None) or {}
        missing = [k for k in REQUIRED_KEYS if k not in meta]
        if missing:
            raise KeyError(f'{type(dataset).__name__} metainfo lacks {missing}: ZSLClassTableHook '
                           'needs a ZSL dataset (class attributes and seen classes)')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, self.head_attr)
        att = np.asarray(meta['class_attributes'])
        if att.shape != (head.num_classes, head.num_attributes):
            raise ValueError(
                f'{type(dataset).__name__} has {att.shape[0]} classes x {att.shape[1]} '
                f'attributes but the model head expects {head.num_classes} x '
                f'{head.num_attributes}; set num_classes / num_attributes in the config')
        # named with the dataset and its class names (the head's own check cannot name them)
        source = getattr(dataset, 'att_splits_file', None)
        check_finite(att, f"{type(dataset).__name__} metainfo 'class_attributes' [num_classes, "
                     f"num_attributes]{f' (from {source})' if source else ''}",
                     axes=(('class', meta.get('classes')), ('attribute',
                                                            meta.get('attribute_names'))))
        head.set_class_attributes(att, meta['seen_classes'], meta.get('attribute_group_ids'))

    def before_train(self, runner) -> None:
        self._apply(runner, runner.train_dataloader)

    def before_val(self, runner) -> None:
        self._apply(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        self._apply(runner, runner.test_dataloader)
