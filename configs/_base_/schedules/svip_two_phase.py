# The official two-phase schedule (docs/method.md, section 6) in MMEngine terms: Adam, one
# optimizer for the whole run, gradient clipping at 1.0; TwoPhaseScheduleHook
# (default_hooks.two_phase_schedule, _base_/default_runtime.py; each experiment sets its phase
# 1) sets the per-epoch learning rates of the 'new' and 'pretrained' parameter groups, so no
# param_scheduler is used. optimizer.lr is phase 2's base lr (the hook reads it from the
# optimizer); phase 1's lr is the hook's phase1_lr.
optim_wrapper = dict(
    constructor='SVIPOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=3e-5, betas=(0.5, 0.999), weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=30)
test_cfg = dict()
