from .safe_checkpoint import use_safe_loader_in_mmengine

use_safe_loader_in_mmengine()

from .checkpoint_hook import SVIPCheckpointHook  # noqa: E402
from .autocast_optim_wrapper import AutocastOptimWrapper  # noqa: E402
from .class_table_hook import ZSLClassTableHook  # noqa: E402
from .data_preparation import prepare_data  # noqa: E402
from .distributed import init_distributed  # noqa: E402
from .epoch_seed_hook import EpochSeedHook  # noqa: E402
from .fast_path import (CompileBackboneHook, SDPABackendHook, compile_backbone,  # noqa: E402
                        optimizer_impl_cfg)
from .non_finite_loss_hook import NonFiniteLossHook  # noqa: E402
from .optim_constructor import SVIPOptimWrapperConstructor  # noqa: E402
from .two_phase_schedule import TwoPhaseScheduleHook  # noqa: E402

__all__ = [
    'AutocastOptimWrapper', 'CompileBackboneHook', 'EpochSeedHook', 'NonFiniteLossHook',
    'SDPABackendHook', 'compile_backbone', 'optimizer_impl_cfg', 'SVIPCheckpointHook',
    'SVIPOptimWrapperConstructor', 'TwoPhaseScheduleHook', 'ZSLClassTableHook',
    'init_distributed', 'prepare_data', 'use_safe_loader_in_mmengine'
]
