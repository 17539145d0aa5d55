# Upper bound of SVIP from the pretrained ViT: the keep set is the ground-truth foreground
# (configs/ablation/svip_vit_synthetic_oracle.py), in both training passes and at test.
_base_ = ['./svip_vit_synthetic_pretrained.py']

model = dict(selection='oracle', oracle_min_fraction=0.1, head=dict(eval_units='kept'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='LoadForegroundMask'),
    dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
