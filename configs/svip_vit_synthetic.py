# The embedded default job: SVIP with a tiny ViT (64 px, patch 8, selection per patch: 8x8 units)
# trained from scratch on the generated synthetic dataset, on the CPU, with real GloVe word
# vectors of the attribute names.
_base_ = ['_base_/datasets/zsl_synthetic.py', '_base_/default_runtime.py']

data_root = 'data/synthetic_zsl'
word_vectors = data_root + '/attribute_glove50.npy'
num_classes, num_attributes, embed_dims = 40, 12, 128
# a ViT small enough for 2 CPU cores: 128-d, 4 layers, 2 heads, patch 8 at 64 px (8 x 8 patches)
vit_arch = dict(embed_dims=embed_dims, num_layers=4, num_heads=2, mlp_ratio=4.0, patch_size=8,
                img_size=64)

data_preparation = [
    dict(type='synthetic_zsl'),  # the training set's data, generated if absent
    dict(type='attribute_embeddings', names_file=data_root + '/attributes/attributes.txt',
         out=word_vectors, backend='glove', dataset='cub'),
]

model = dict(
    type='SVIPClassifier',
    backbone=dict(type='SVIPVisionTransformer', arch=vit_arch, drop_path_rate=0.1),
    neck=dict(
        type='SemanticPatchSelector',
        in_channels=embed_dims,
        num_attributes=num_attributes,
        keep_k=24,  # of 64 units
        word_vectors=word_vectors,
        # selection per 8 px patch: on this data 16 px units (2x2 patches) gave H 54.5 / AUROC 0.769,
        # patches H 60.6 / 0.802 (seed 0; docs/synthetic_experiments.md)
        unit_size=1,
        aggregation='rollout',
        context_mode='add',
        # pairwise ranking of dropped over kept units: the selector only has to order units
        loss=dict(type='SVIPSelectorLoss', mode='ranking', loss_weight=3.0)),
    head=dict(
        type='SemanticAttributeHead',
        num_attributes=num_attributes,
        in_channels=embed_dims,
        num_classes=num_classes,
        unit_size=1,
        pooling='mean',
        similarity='dot',
        scale=5.0,
        decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.09)),
    consistency=dict(type='SVIPConsistencyLoss', mode='kl', temperature=20.0),
    predict_attention=True)  # also report how well the attention labels find the object

# trained from scratch: the "new modules first" phase is one short epoch
# bf16 autocast (svip_mm's AutocastOptimWrapper also runs on the CPU): about 1.5-2x faster on
# CPUs with AVX512-BF16 / AMX; on older CPUs use type='OptimWrapper' (fp32)
optim_wrapper = dict(
    type='AutocastOptimWrapper',
    constructor='SVIPOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = []  # learning rates are set per epoch by TwoPhaseScheduleHook
# phase 1: the new modules alone at phase1_lr; then everything at optim_wrapper.optimizer.lr
# (the hook reads it from the optimizer), x0.8 every 5 epochs
custom_hooks = [
    dict(type='ZSLClassTableHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='EpochSeedHook'),
    dict(type='TwoPhaseScheduleHook', phase1_epochs=1, phase1_lr=1e-3, step_epochs=5,
         gamma=0.8),
]
# after training, the test also writes summary figures (selection, attention, attributes) of a
# few test images, seen and unseen, to <work_dir>/visualization
custom_imports = dict(imports=['svip_mm', 'svip_mm.visualization'], allow_failed_imports=False)
default_hooks = dict(visualization=dict(
    _delete_=True, type='SVIPVisualizationHook', enable=True, max_images=6, interval=170))
train_cfg = dict(by_epoch=True, max_epochs=30)
test_cfg = dict()
