# Difficulty check: the ViT + attribute head baseline on the cluttered data with oracle masking.
# ViT patches (8 x 8 px: grid 8 on 64 px images) whose ground-truth foreground fraction is below
# 0.1 are filled with the ImageNet mean (zeros after normalisation) in training AND at test:
# masking only in training makes the model worse. (Masking 16 px units, grid=4, leaves more
# clutter next to the object and won back less: configs/ablation/README.md.)
_base_ = ['../baseline_vit_synthetic.py']

mask_background = dict(type='MaskBackgroundUnits', grid=8, min_fraction=0.1)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='LoadForegroundMask'),
    mask_background,
    dict(type='PackInputs', algorithm_keys=['is_unseen']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadForegroundMask'),
    mask_background,
    dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
