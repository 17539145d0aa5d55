# CUB-200-2011, xlsa17 proposed split (150 seen / 50 unseen classes, 312 attributes), raw images.
# Layout under data_root: see svip_mm.datasets.ZSLCUB. An experiment that inherits this piece
# and uses another folder overrides the dataloaders, e.g.
#   train_dataloader = dict(dataset=dict(data_root='/my/CUB'))  (same for val/test),
# because config variables such as data_root are resolved inside this file.
# default_scope / custom_imports belong to the runtime or experiment config (mmengine refuses
# a key defined in two _base_ files).
dataset_type = 'ZSLCUB'
data_root = 'data/CUB'
# Attribute groups of the decorrelation loss (and of AttributeGroupMetric): the 28 has_x::
# name prefixes, which are exactly the released SVIP code's 28 CUB groups.
attribute_groups = 'prefix'

# ImageNet statistics (RGB); images are loaded BGR by OpenCV, hence to_rgb.
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=200,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# docs/method.md, section 6: CUB resize 256 -> center crop 224 -> flip.
# Resizing as the released torchvision transforms do it: PIL bilinear, which antialiases when
# it downscales (mmcv's default cv2 bilinear does not, and aliases on large CUB / SUN images).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs', algorithm_keys=['is_unseen']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', algorithm_keys=['is_unseen']),
]

train_dataloader = dict(
    batch_size=64,
    # as released: the last incomplete batch of an epoch is dropped (torch DataLoader)
    drop_last=True,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, attribute_groups=attribute_groups,
                 split='trainval', pipeline=train_pipeline))
# GZSL evaluation set: test_seen + test_unseen (each sample carries is_unseen). Validating
# on it is monitoring only; never select checkpoints on it (docs/method.md, section 9).
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, attribute_groups=attribute_groups,
                 split='test', test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
# class metrics (honest, oracle and official blocks) and attribute accuracy per group
test_evaluator = [dict(type='GZSLMetric'), dict(type='AttributeGroupMetric')]
