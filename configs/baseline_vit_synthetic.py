# The "ViT + attribute head" baseline of the ablation: mmpretrain's own ImageClassifier and
# VisionTransformer with svip_mm's attribute head, no patch selection, on the synthetic data.
# Same data, backbone size, schedule and epochs as configs/svip_vit_synthetic.py.
_base_ = ['./svip_vit_synthetic.py']

data_preparation = [dict(type='synthetic_zsl')]  # no word vectors needed

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        # the same size as the SVIP default's ViT (128-d, 4 layers, 2 heads, MLP 4x)
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

# no selector, hence no SVIP figures and no patch-selection metric
default_hooks = dict(visualization=dict(_delete_=True, type='VisualizationHook', enable=False))
test_evaluator = [dict(type='GZSLMetric'), dict(type='AttributeGroupMetric')]
