# The "ViT + attribute head" baseline at the size of the synthetic jobs' SVIP: mmpretrain's
# own ImageClassifier and VisionTransformer (128-d, 4 layers, 2 heads, MLP 4x, patch 8 at
# 64 px) with svip_mm's attribute head; no patch selection.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=128, num_layers=4, num_heads=2, feedforward_channels=512),
        img_size=64,
        patch_size=8,
        drop_path_rate=0.1,
        out_type='featmap'),
    head=dict(
        type='SemanticAttributeHead',
        num_attributes=12,
        in_channels=128,
        num_classes=40,
        unit_size=1,  # as SVIP's head: one linear map from a patch to the attributes
        pooling='mean',
        similarity='dot',
        scale=5.0,
        decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.09)))
