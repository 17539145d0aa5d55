# SUN attribute database, xlsa17 proposed split (645 seen / 72 unseen classes,
# 102 attributes), raw images.
# Layout under data_root: see svip_mm.datasets.ZSLSUN. An experiment that inherits this piece
# and uses another folder overrides the dataloaders, e.g.
#   train_dataloader = dict(dataset=dict(data_root='/my/SUN'))  (same for val/test),
# because config variables such as data_root are resolved inside this file.
# default_scope / custom_imports belong to the runtime or experiment config (mmengine refuses
# a key defined in two _base_ files).
dataset_type = 'ZSLSUN'
data_root = 'data/SUN'
# Attribute groups of the decorrelation loss (and of AttributeGroupMetric): the released SVIP
# code's grouping, as the paper's results used it (sterile and scary with the materials, warm
# and cold with the spatial envelope). attribute_groups='sun' gives the four contiguous SUN
# attribute types instead (svip_mm/datasets/attribute_groups.py).
attribute_groups = 'sun_released'

# ImageNet statistics (RGB); images are loaded BGR by OpenCV, hence to_rgb.
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=717,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# docs/method.md, section 6: SUN random resized crop 224 + flip.
# Resizing as the released torchvision transforms do it: PIL bilinear, which antialiases when
# it downscales (mmcv's default cv2 bilinear does not, and aliases on large CUB / SUN images).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bilinear'),
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
