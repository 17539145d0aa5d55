# TransZero (Chen et al., AAAI 2022; released code: github.com/shiming-chen/TransZero) as
# svip_mm's TransZeroHead behind mmpretrain's ImageClassifier + VisionTransformer, on the
# synthetic benchmark, trained from scratch. The ViT, data, schedule and epochs are those of
# configs/baseline_vit_synthetic.py (the "ViT + attribute head" baseline): only the head
# differs. The head's hyperparameters are the released CUB setting (cited below);
# docs/transzero.md lists what differs from the published method.
#
# Backbone: from scratch a frozen random ViT would learn nothing, so the schedule is the
# baseline's: the head alone for 1 epoch (TwoPhaseScheduleHook phase 1, 'new' = head.*), then
# everything, backbone included (the released TransZero trains on frozen ResNet-101 features).
#
# TRANSDUCTIVE USE OF UNSEEN CLASS ATTRIBUTES: the self-calibration loss (on here, as
# published) and the cross-entropy over all classes (ce_classes='all', as released) read the
# unseen classes' attribute vectors during training. transzero_vit_synthetic_no_selfcal.py
# drops the self-calibration term; transzero_vit_synthetic_inductive.py drops both.
_base_ = ['../_base_/datasets/zsl_synthetic.py', '../_base_/models/vit_tiny_attribute_baseline.py',
          '../_base_/schedules/synthetic_two_phase.py', '../_base_/zsl_runtime.py']

data_root = 'data/synthetic_zsl'
word_vectors = data_root + '/attribute_glove50.npy'
# as configs/svip_vit_synthetic.py: the data, then GloVe 6B-50d vectors of the attribute names
# (the released TransZero uses 300-d GloVe vectors of the attribute names, w2v/*.pkl)
data_preparation = [
    dict(type='synthetic_zsl'),
    dict(type='attribute_embeddings', names_file=data_root + '/attributes/attributes.txt',
         out=word_vectors, backend='glove', dataset='cub'),
]

model = dict(
    head=dict(
        _delete_=True,
        type='TransZeroHead',
        num_attributes=12,
        in_channels=128,  # the ViT's embed_dims
        num_classes=40,
        word_vectors=word_vectors,
        # shiming-chen/TransZero wandb_config/cub_gzsl.yaml: tf_common_dim 300,
        # tf_dim_feedforward 512, tf_dropout 0.4, tf_ec_layer 1, tf_dc_layer 1, tf_heads 1,
        # tf_SAtt True, normalize_V False
        embed_dims=300,
        feedforward_channels=512,
        dropout=0.4,
        num_encoder_layers=1,
        num_decoder_layers=1,
        decoder_heads=1,
        decoder_self_attention=True,
        normalize_word_vectors=False,
        # model.py (ScaledDotProductGeometryAttention's default dropout .1, not overridden)
        encoder_attn_drop=0.1,
        # model.py: geometry penalty on the region grid (here the 8 x 8 patch grid)
        encoder_attention='geometry',
        # model.py: TransZero(..., bias=1): +1 unseen / -1 seen, kept at test (helper_func.py)
        calibration_bias=1.0,
        bias_at_test=True,
        # model.py: is_conservative=True, the cross-entropy runs over all classes
        ce_classes='all',
        # wandb_config/cub_gzsl.yaml: lambda_ 0.3, lambda_reg 0.005
        self_calibration=dict(type='SelfCalibrationLoss', loss_weight=0.3),
        attribute_regression=dict(type='AttributeRegressionLoss', loss_weight=0.005)))

# no selector, hence no patch-selection metric (as the baseline)
test_evaluator = [dict(type='GZSLMetric'), dict(type='AttributeGroupMetric')]
