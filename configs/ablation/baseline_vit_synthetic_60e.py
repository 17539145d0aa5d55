# Ablation, time-matched baseline: the ViT + attribute head trained for 60 epochs. One SVIP step
# runs the ViT twice (source and target pass), so 60 baseline epochs take about the wall time of
# SVIP's 30 (the ablation report gives the measured times). Same schedule otherwise: phase 1 for
# one epoch, then x0.8 every 5 epochs.
_base_ = ['../baseline_vit_synthetic.py']

train_cfg = dict(by_epoch=True, max_epochs=60)
