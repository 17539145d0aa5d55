# The synthetic jobs' schedule: AdamW, bf16 autocast, gradient clipping at 1.0, 30 epochs, and
# the two phases of default_hooks.two_phase_schedule (_base_/default_runtime.py: the new
# modules alone for 1 epoch at 1e-3, then everything at optimizer.lr, x0.8 every 5 epochs).
# TwoPhaseScheduleHook sets the learning rates per epoch, so no param_scheduler is used.
# bf16 autocast (svip_mm's AutocastOptimWrapper also runs on the CPU): about 1.5-2x faster on
# CPUs with AVX512-BF16 / AMX; on older CPUs use type='OptimWrapper' (fp32).
optim_wrapper = dict(
    type='AutocastOptimWrapper',
    constructor='SVIPOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=30)
test_cfg = dict()
