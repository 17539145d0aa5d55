# The "ViT + attribute head" baseline of the ablation: mmpretrain's own ImageClassifier and
# VisionTransformer with svip_mm's attribute head, no patch selection, on the synthetic data.
# Same data, backbone size, schedule and epochs as configs/svip_vit_synthetic.py.
_base_ = ['_base_/datasets/zsl_synthetic.py', '_base_/models/vit_tiny_attribute_baseline.py',
          '_base_/schedules/synthetic_two_phase.py', '_base_/zsl_runtime.py']

data_preparation = [dict(type='synthetic_zsl')]  # no word vectors needed

# no selector, hence no patch-selection metric
test_evaluator = [dict(type='GZSLMetric'), dict(type='AttributeGroupMetric')]
