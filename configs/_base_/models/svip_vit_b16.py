# SVIP on ViT-B/16 at 224 px (14x14 patches -> 7x7 units of 2x2), as in the paper.
# Experiments set: the pretrained weights (backbone init_cfg: a timm hub name, a URL or a
# local file), num_attributes, num_classes, keep_k, word_vectors and the loss weights
# (docs/method.md, section 6).
model = dict(
    type='SVIPClassifier',
    backbone=dict(type='SVIPVisionTransformer', arch='base', img_size=224, patch_size=16),
    neck=dict(
        type='SemanticPatchSelector',
        in_channels=768,
        unit_size=2,
        hidden_channels=512,
        aggregation='rollout',
        label_grouping='block',
        context_mode='add',
        context_layout='unit',
        loss=dict(type='SVIPSelectorLoss', mode='bce', loss_weight=3.0)),
    head=dict(
        type='SemanticAttributeHead',
        in_channels=768,
        unit_size=2,
        # 'mean' (released default) or 'max' (paper); the training step's target-pass
        # re-selection builds its prototype with the same pooling, as released
        pooling='mean',
        similarity='dot',
        scale=5.0,
        eval_units='all'),
    consistency=dict(type='SVIPConsistencyLoss', mode='kl', temperature=20.0))
