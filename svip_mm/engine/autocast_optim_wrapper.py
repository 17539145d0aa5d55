"""bf16 autocast training where MMEngine's AmpOptimWrapper refuses to run (the CPU)."""
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An OptimWrapper whose forward runs under ``torch.autocast`` in bfloat16.

    bfloat16 has fp32's exponent range, so no loss scaling is needed. The device type is
    taken from the model's parameters, so the same config runs on CPU and GPU. SVIP's losses
    cast their inputs to fp32 themselves.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        if dtype != 'bfloat16':
            raise ValueError(f"AutocastOptimWrapper supports dtype='bfloat16' only, got {dtype!r}"
                             " (use mmengine's AmpOptimWrapper for float16 on GPUs)")
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device_type=device,
                                                          dtype=self.cast_dtype):
            yield
