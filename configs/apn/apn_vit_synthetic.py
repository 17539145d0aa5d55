# APN (Xu et al., "Attribute Prototype Network for Zero-Shot Learning", NeurIPS 2020) on the
# synthetic benchmark, from scratch: mmpretrain's ImageClassifier and VisionTransformer with
# svip_mm's APNHead. The same ViT, data, schedule and epochs as configs/baseline_vit_synthetic.py
# (its bases), so the two differ only in the head. docs/apn.md describes the head.
_base_ = ['../_base_/datasets/zsl_synthetic.py', '../_base_/models/vit_tiny_attribute_baseline.py',
          '../_base_/schedules/synthetic_two_phase.py', '../_base_/zsl_runtime.py']

data_preparation = [dict(type='synthetic_zsl')]  # no word vectors needed

# Loss weights: the released CUB GZSL script (script/CUB_GZSL.sh of wenjiaXu/APN-ZSL), the one
# published run with attribute groups and a max-pooled global branch. The synthetic data has
# both: 12 attributes in 4 groups (the dataset's attribute_groups, which the class-table hook
# hands to the head), each attribute a shape drawn at one place in the image.
model = dict(
    head=dict(
        _delete_=True,
        type='APNHead',
        num_attributes=12,
        in_channels=128,  # the ViT's embed_dims
        num_classes=40,
        global_pooling='max',  # CUB script: no --avg_pool
        local_pooling='max',  # model/model_proto.py: the local branch is always max-pooled
        scale=1.0,  # model/model_proto.py: class scores are a A^T, unscaled
        ce_form='logits',  # the paper's cross-entropy; 'softmax_twice' is the released form
        global_ce_weight=1.0,  # --xe 1
        local_ce_weight=1.0,  # --l_xe 1
        global_regression=dict(type='AttributeRegressionLoss', loss_weight=1e-2),  # --attri
        local_regression=dict(type='AttributeRegressionLoss', loss_weight=1e-1),  # --l_attri
        # --regular 5e-5 on W, --l_regular 4e-2 on P; add_glasso (model/visual_utils.py):
        # one norm over the whole group
        global_decorrelation=dict(type='PrototypeDecorrelationLoss', loss_weight=5e-5,
                                  norm='group', grouping='groups'),
        local_decorrelation=dict(type='PrototypeDecorrelationLoss', loss_weight=4e-2,
                                 norm='group', grouping='groups'),
        # --cpt 1e-9; sigmoid of the map, summed over the batch (model/main_utils.py, Loss_fn)
        compactness=dict(type='AttributeCompactnessLoss', loss_weight=1e-9,
                         activation='sigmoid', reduction='sum'),
        prototype_init_scale=2e-4))  # model/model_proto.py: 2e-4 * torch.rand

# no selector, hence no patch-selection metric
test_evaluator = [dict(type='GZSLMetric'), dict(type='AttributeGroupMetric')]
