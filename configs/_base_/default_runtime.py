# Runtime shared by the svip_mm experiments: the plugin scope, hooks, logging, environment.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['svip_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the last checkpoint; experiments with a validation set add save_best.
    # SVIPCheckpointHook: CheckpointHook + plain-type checkpoints (safe to load), strict
    # loading, one run per work dir, no overwriting of checkpoints of another run
    checkpoint=dict(type='SVIPCheckpointHook', interval=1, max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo without GPUs
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
