# The runtime of svip_mm's zero-shot jobs: _base_/default_runtime.py plus svip_mm's hooks,
# named entries of default_hooks so that a config changes one by merging a dict
# (custom_hooks is a list, which a config could only replace whole), e.g.
#   default_hooks = dict(two_phase_schedule=dict(phase1_epochs=4))
# or on the command line: --cfg-options default_hooks.two_phase_schedule.phase1_lr=5e-4
_base_ = ['./default_runtime.py']

default_hooks = dict(
    # the dataset's class table (class attributes, seen / unseen classes, attribute groups)
    # into the attribute head, before training, validation and testing
    class_table=dict(type='ZSLClassTableHook'),
    # stop at the first NaN / inf loss term, naming it
    non_finite_loss=dict(type='NonFiniteLossHook'),
    # the new modules alone for phase1_epochs at phase1_lr (the ViT at lr 0), then everything
    # at optim_wrapper.optimizer.lr, x gamma every step_epochs epochs; phase 1 here is the
    # synthetic jobs', and a config with another schedule sets its own
    two_phase_schedule=dict(type='TwoPhaseScheduleHook', phase1_epochs=1, phase1_lr=1e-3,
                            step_epochs=5, gamma=0.8),
)
