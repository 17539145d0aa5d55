# The pretrained-ViT baseline given about SVIP's wall time: SVIP runs two ViT passes per
# step, so twice the epochs (as configs/ablation/baseline_vit_synthetic_time_matched.py; the
# experiment's report gives both wall times, to check the match).
_base_ = ['./baseline_vit_synthetic_pretrained.py']

train_cfg = dict(by_epoch=True, max_epochs=60)
