# Supervised pretraining of the default job's ViT on the generated `source` data: the small
# analogue of ImageNet pretraining before CUB. mmpretrain's ImageClassifier with mmpretrain's
# VisionTransformer of configs/baseline_vit_synthetic.py's size (128-d, 4 layers, 2 heads,
# feedforward 512, patch 8, 64 px) and a linear classifier on the CLS token, trained with
# cross-entropy on the source set's seen classes for 30 epochs.
#
# The source preset (svip_mm/datasets/synthetic_zsl/parameters.py, PRESETS['source']) draws
# other shapes (square / cross / crescent) and colours (yellow / orange / purple) than the
# default target data, so no target class, seen or unseen, is among its images.
#
# Run on its own:  python tools/train.py configs/pretrain/vit_synthetic_source.py
# Used by configs/pretrained/*.py through their data_preparation step 'pretrained_backbone',
# which runs this config and keeps the backbone weights of the final checkpoint.
_base_ = ['../_base_/datasets/zsl_synthetic.py', '../_base_/default_runtime.py']

data_root = 'data/synthetic_source'
# ZSLSynthetic's gt_label is the global class id (0..59 over all 60 source classes, seen and
# unseen), so the classifier has 60 outputs; the 10 unseen source classes never occur as
# labels in trainval (their logits are only pushed down).
num_classes = 60
embed_dims = 128
# every generator parameter given, so that the folder's data cannot silently differ
source_data = dict(type='ZSLSynthetic', data_root=data_root, preset='source', seed=0,
                   image_size=64, clutter=True)

data_preparation = [dict(type='synthetic_zsl')]  # the source data, generated if absent

data_preprocessor = dict(num_classes=num_classes)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,  # with EpochSeedHook: the same weights per seed, also on resume
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(_delete_=True, split='trainval', pipeline=train_pipeline, **source_data))
# held-out images of the same (seen) source classes: the source accuracy, once at the end
val_dataloader = dict(
    _delete_=True,  # None in the base
    batch_size=128,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='test_seen', test_mode=True, pipeline=test_pipeline, **source_data))
val_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, ))
val_cfg = dict(_delete_=True)
# no zero-shot test: this is a pretraining run
test_dataloader = None
test_evaluator = None
test_cfg = None

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=embed_dims, num_layers=4, num_heads=2, feedforward_channels=512),
        img_size=64,
        patch_size=8,
        drop_path_rate=0.1,
        # the CLS token feeds the classifier, so its attention learns to look at the object:
        # what the attention rollout of SVIP's selector reads afterwards
        out_type='cls_token'),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=embed_dims,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

# AdamW and bf16 autocast as the default job; no weight decay on position embedding, CLS
# token, norms and biases (mmpretrain's ViT recipes)
optim_wrapper = dict(
    type='AutocastOptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys={'.cls_token': dict(decay_mult=0.0), '.pos_embed': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=1.0))
# the default job's rule, lr x 0.8 ** (epoch // 5), with a linear warm-up over the first epoch
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='StepLR', step_size=5, gamma=0.8, by_epoch=True),
]
# a plain classifier with a param_scheduler: of svip_mm's hooks only the NaN stop (and the
# dataset base's EpochSeedHook)
default_hooks = dict(non_finite_loss=dict(type='NonFiniteLossHook'))
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=30)
