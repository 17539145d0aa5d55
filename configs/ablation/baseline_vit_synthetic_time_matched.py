# The baseline given SVIP's time budget instead of its epochs: SVIP runs two forward passes
# per step (and the selector), about twice the baseline's time per epoch on the CPU, so the
# baseline trains 60 epochs in about the wall time of SVIP's 30 (wall times: docs/ablation.md).
# Same data, model and learning-rate rule (x0.8 every 5 epochs) as the baseline.
_base_ = ['../baseline_vit_synthetic.py']

train_cfg = dict(by_epoch=True, max_epochs=60)
