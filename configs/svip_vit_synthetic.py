# The embedded default job: SVIP with a tiny ViT (64 px, patch 8, 4x4 units of 2x2 patches)
# trained from scratch on the generated synthetic dataset, on the CPU, with real GloVe word
# vectors of the attribute names.
_base_ = ['_base_/datasets/zsl_synthetic.py', '_base_/default_runtime.py']

data_root = 'data/synthetic_zsl'
word_vectors = data_root + '/attribute_glove50.npy'
num_classes, num_attributes, embed_dims = 40, 12, 192

data_preparation = [
    dict(type='synthetic_zsl'),  # the training set's data, generated if absent
    dict(type='attribute_embeddings', names_file=data_root + '/attributes/attributes.txt',
         out=word_vectors, backend='glove', dataset='cub'),
]

model = dict(
    type='SVIPClassifier',
    backbone=dict(type='SVIPVisionTransformer', arch='tiny-cpu', drop_path_rate=0.1),
    neck=dict(
        type='SemanticPatchSelector',
        in_channels=embed_dims,
        num_attributes=num_attributes,
        keep_k=8,  # of 16 units
        word_vectors=word_vectors,
        unit_size=2,
        aggregation='rollout',
        context_mode='add',
        loss=dict(type='SVIPSelectorLoss', mode='bce', loss_weight=3.0)),
    head=dict(
        type='SemanticAttributeHead',
        num_attributes=num_attributes,
        in_channels=embed_dims,
        num_classes=num_classes,
        unit_size=2,
        pooling='mean',
        similarity='dot',
        scale=5.0,
        decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.09)),
    consistency=dict(type='SVIPConsistencyLoss', mode='kl', temperature=20.0),
    predict_attention=True)  # also report how well the attention labels find the object

# trained from scratch: the "new modules first" phase is one short epoch
optim_wrapper = dict(
    constructor='SVIPOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = []  # learning rates are set per epoch by TwoPhaseScheduleHook
custom_hooks = [
    dict(type='ZSLClassTableHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='EpochSeedHook'),
    dict(type='TwoPhaseScheduleHook', phase1_epochs=1, phase1_lr=1e-3, lr=5e-4,
         step_epochs=5, gamma=0.8),
]
train_cfg = dict(by_epoch=True, max_epochs=30)
test_cfg = dict()
