# SVIP with the tiny ViT of the synthetic jobs: 128-d, 4 layers, 2 heads, patch 8 at 64 px
# (8 x 8 patches), selection per patch (unit_size 1), on the synthetic data's 40 classes and
# 12 attributes, with the GloVe vectors of its attribute names (the config's
# data_preparation writes them).
num_classes, num_attributes, embed_dims = 40, 12, 128
vit_arch = dict(embed_dims=embed_dims, num_layers=4, num_heads=2, mlp_ratio=4.0, patch_size=8,
                img_size=64)
word_vectors = 'data/synthetic_zsl/attribute_glove50.npy'

model = dict(
    type='SVIPClassifier',
    backbone=dict(type='SVIPVisionTransformer', arch=vit_arch, drop_path_rate=0.1),
    neck=dict(
        type='SemanticPatchSelector',
        in_channels=embed_dims,
        num_attributes=num_attributes,
        keep_k=24,  # of 64 units
        word_vectors=word_vectors,
        # selection per 8 px patch; 16 px units (2x2 patches) did worse on this data
        # (configs/README.md)
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
