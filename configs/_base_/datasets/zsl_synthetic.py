# The generated synthetic ZSL dataset (svip_mm.datasets.synthetic_zsl): 40 classes (30 seen /
# 10 unseen), 12 attributes in 4 groups, 64 px images with background clutter, written in the
# xlsa17 format on first use. An experiment using another variant overrides the dataloaders'
# dataset fields (data_root, preset, seed, clutter).
dataset_type = 'ZSLSynthetic'
data_root = 'data/synthetic_zsl'

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=40,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# the images are already 64 px; flips keep every attribute (shapes are mirror-symmetric)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', algorithm_keys=['is_unseen']),
]
# the ground-truth foreground masks travel with the test samples for PatchSelectionMetric
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadForegroundMask'),
    dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask']),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    # workers restarted (and reseeded by MMEngine) every epoch, so that with EpochSeedHook a
    # --resume run draws the same augmentations as an uninterrupted one; persistent workers
    # would carry their random streams across epochs. Restarting 2 workers costs about
    # 0.1-0.2 s per epoch (of ~14 s on 2 CPU cores).
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='trainval',
                 pipeline=train_pipeline))
# python / numpy / torch reseeded every epoch: with the workers restarted (above), a --resume
# run repeats the uninterrupted one exactly
custom_hooks = [dict(type='EpochSeedHook')]
# trainval uses every seen class, so there is no held-out validation set: the last
# checkpoint is the result, and the test set (test_seen + test_unseen) is evaluated once.
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', test_mode=True,
                 pipeline=test_pipeline))
# class metrics, selection quality against the masks, attribute accuracy per group
test_evaluator = [dict(type='GZSLMetric'), dict(type='PatchSelectionMetric'),
                  dict(type='AttributeGroupMetric')]
