# Ablation upper bound: SVIP with oracle selection. In training and at test the kept units are
# those the ground-truth foreground mask covers (fraction >= 0.1, the background threshold of
# PatchSelectionMetric); the selector learns these labels (its AUROC is still reported) and the
# context token goes on the other units. The masks travel with the training samples too,
# loaded after the flip so they stay aligned.
_base_ = ['../svip_vit_synthetic.py']

# both training passes pool the attribute scores over the oracle's kept units, so the test
# does too: pooling over all units at test (the default) gave H 34-41 instead of ~61
model = dict(selection='oracle', oracle_min_fraction=0.1, head=dict(eval_units='kept'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='LoadForegroundMask'),
    dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
