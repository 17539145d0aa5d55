"""`import svip_mm` registers every component into mmpretrain's registries."""
from mmpretrain.registry import (DATASETS, HOOKS, METRICS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS,
                                 OPTIM_WRAPPERS, TRANSFORMS)

import svip_mm  # noqa: F401

EXPECTED = {
    MODELS: ['SVIPVisionTransformer', 'SemanticPatchSelector', 'SemanticAttributeHead',
             'SVIPClassifier', 'SVIPConsistencyLoss', 'AttributeDecorrelationLoss',
             'SVIPSelectorLoss'],
    DATASETS: ['ZSLXlsa17Dataset', 'ZSLCUB', 'ZSLAWA2', 'ZSLSUN', 'ZSLSynthetic'],
    METRICS: ['GZSLMetric', 'PatchSelectionMetric', 'AttributeGroupMetric'],
    TRANSFORMS: ['LoadForegroundMask'],
    HOOKS: ['ZSLClassTableHook', 'TwoPhaseScheduleHook', 'NonFiniteLossHook', 'EpochSeedHook',
            'SVIPCheckpointHook', 'SVIPVisualizationHook', 'CompileBackboneHook',
            'SDPABackendHook'],
    OPTIM_WRAPPER_CONSTRUCTORS: ['SVIPOptimWrapperConstructor'],
    OPTIM_WRAPPERS: ['AutocastOptimWrapper'],
}


def test_every_component_is_in_the_mmpretrain_registry():
    for registry, names in EXPECTED.items():
        for name in names:
            cls = registry.get(name)
            assert cls is not None, f'{name} not in {registry.name}'
            assert cls.__module__.startswith('svip_mm.'), (name, cls.__module__)


def test_no_mmcv_lite_warning_on_import_or_tool_start(tmp_path):
    """mmcv-lite's 'Fail to import MultiScaleDeformableAttention' used to print on every
    command."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    for cmd in ([sys.executable, '-c', 'import svip_mm'],
                [sys.executable, str(repo / 'tools/train.py'), '--help']):
        proc = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert 'MultiScaleDeformableAttention' not in proc.stderr
