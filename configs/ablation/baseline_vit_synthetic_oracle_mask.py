# Difficulty check: the ViT + attribute head baseline on the cluttered data with oracle masking.
# Units (2 x 2 patches = 16 x 16 px) whose ground-truth foreground fraction is below 0.1 are
# filled with the ImageNet mean (zeros after normalisation) in training AND at test: masking
# only in training makes the model worse.
_base_ = ['../baseline_vit_synthetic.py']

mask_background = dict(type='MaskBackgroundUnits', grid=4, min_fraction=0.1)
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
