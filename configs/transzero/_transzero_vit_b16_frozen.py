# Shared piece of the TransZero real-dataset configs (transzero_vit_{cub,awa2,sun}.py): a
# pretrained ViT-B/16 at 224 px (14 x 14 patch tokens of width 768, the grid of the released
# ResNet-101 regions at 448 px) kept frozen, and svip_mm's TransZeroHead, behind mmpretrain's
# ImageClassifier. Each dataset config sets the head's numbers, the optimizer and the epochs,
# each cited to shiming-chen/TransZero (model.py, train_*.py, wandb_config/*_gzsl.yaml).
#
# Frozen backbone, as released (the released code trains on features extracted once): phase 1
# of TwoPhaseScheduleHook lasts the whole run, so the backbone's parameter group ('pretrained',
# SVIPOptimWrapperConstructor) has lr 0 throughout and only head.* trains; drop_path_rate 0
# makes the training-mode ViT compute the same features as at test. (Gradients still reach
# the backbone; lr 0 is the repository's way of not training a part, safe under DDP.)
pretrained = 'timm/vit_base_patch16_224.orig_in21k_ft_in1k'

model = dict(
    type='ImageClassifier',
    backbone=dict(type='SVIPVisionTransformer', arch='base', img_size=224, patch_size=16,
                  drop_path_rate=0.0, out_type='featmap',
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head=dict(
        type='TransZeroHead',
        in_channels=768,  # ViT-B width (the released regions are 2048-d ResNet-101 features)
        # model.py: one encoder layer (tf_ec_layer 1), one decoder layer (tf_dc_layer 1), one
        # head (tf_heads 1) in every wandb_config/*_gzsl.yaml; the encoder's attention-weight
        # dropout is ScaledDotProductGeometryAttention's default .1; calibration bias 1
        # (TransZero(..., bias=1)), kept at test (helper_func.py evaluates the biased scores);
        # cross-entropy over all classes (is_conservative=True)
        num_encoder_layers=1,
        num_decoder_layers=1,
        decoder_heads=1,
        encoder_attn_drop=0.1,
        encoder_attention='geometry',
        calibration_bias=1.0,
        bias_at_test=True,
        ce_classes='all'))

# one optimizer for the whole run; each dataset config adds optimizer=dict(...)
optim_wrapper = dict(constructor='SVIPOptimWrapperConstructor')
param_scheduler = []
train_cfg = dict(by_epoch=True)
test_cfg = dict()
