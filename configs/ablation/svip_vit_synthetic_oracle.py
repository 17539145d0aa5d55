# Ablation upper bound: SVIP with oracle selection. In training and at test the kept units are
# those the ground-truth foreground mask covers (fraction >= 0.1, the background threshold of
# PatchSelectionMetric); the selector learns these labels (its AUROC is still reported) and the
# context token goes on the other units. The masks travel with the training samples too,
# loaded after the flip so they stay aligned.
_base_ = ['../svip_vit_synthetic.py']

model = dict(selection='oracle', oracle_min_fraction=0.1)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='LoadForegroundMask'),
    dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
