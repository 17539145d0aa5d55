"""Optimizer parameter groups for SVIP's two-phase schedule."""
from typing import Sequence

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SVIPOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Two parameter groups tagged ``group_name``: ``'new'`` (modules SVIP adds on top of a
    pretrained ViT: by default everything under ``neck.`` and ``head.``) and ``'pretrained'``
    (the rest). :class:`TwoPhaseScheduleHook` sets each group's learning rate per epoch.

    Extra ``paramwise_cfg`` key: ``new_prefixes`` (default ``('neck.', 'head.')``).
    """

    def add_params(self, params, module: nn.Module, prefix: str = '', is_dcn_module=None):
        if is_model_wrapper(module):
            module = module.module
        new_prefixes: Sequence[str] = tuple(self.paramwise_cfg.get('new_prefixes',
                                                                   ('neck.', 'head.')))
        new, pretrained = [], []
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            (new if name.startswith(new_prefixes) else pretrained).append(param)
        if not new:
            raise ValueError(f'no parameter name starts with {new_prefixes}: the two-phase '
                             'schedule needs new modules to train first')
        params.append(dict(params=new, group_name='new'))
        if pretrained:
            params.append(dict(params=pretrained, group_name='pretrained'))

    def __call__(self, model: nn.Module):
        # only 'new_prefixes' is ours; the parent's paramwise options would split the groups
        unknown = set(self.paramwise_cfg) - {'new_prefixes'}
        if unknown:
            raise ValueError(f'SVIPOptimWrapperConstructor supports only new_prefixes in '
                             f'paramwise_cfg, got {sorted(unknown)}')
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        params: list = []
        self.add_params(params, model)
        optimizer_cfg['params'] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(optim_wrapper_cfg, default_args=dict(optimizer=optimizer))
