# Shared piece of the APN real-dataset configs (apn_vit_{cub,awa2,sun}.py): a pretrained
# ViT-B/16 at 224 px behind mmpretrain's ImageClassifier, svip_mm's APNHead with the settings
# the released code (R = github.com/wenjiaXu/APN-ZSL) uses on every dataset, and its optimizer
# and schedule shape. Each dataset config sets the numbers its script (S = script/<DATA>_GZSL.sh)
# gives, cited per number; docs/apn.md lists what differs from the published method.
_base_ = ['../_base_/schedules/svip_two_phase.py']

# timm's hub name, fetched once into huggingface_hub's cache when training starts (or a local
# file: see configs/svip_vit_cub.py, also on the choice of weights; the same weights as SVIP's
# configs keep the comparison fair)
pretrained = 'timm/vit_base_patch16_224.orig_in21k_ft_in1k'

model = dict(
    type='ImageClassifier',
    backbone=dict(type='SVIPVisionTransformer', arch='base', img_size=224, patch_size=16,
                  out_type='featmap', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head=dict(
        type='APNHead',
        in_channels=768,
        local_pooling='max',  # R model/model_proto.py: the local branch is always max-pooled
        scale=1.0,  # R model/model_proto.py: class scores a A^T, unscaled
        # our choice: the paper's cross-entropy of the class scores; R model/main.py feeds
        # softmax scores to CrossEntropyLoss (softmax twice): ce_form='softmax_twice'
        ce_form='logits',
        global_ce_weight=1.0,  # S --xe 1 (every dataset)
        local_ce_weight=1.0,  # S --l_xe 1 (every dataset)
        prototype_init_scale=2e-4))  # R model/model_proto.py: 2e-4 * torch.rand

# R model/main.py: Adam, betas (0.5 = R model/opt.py's default beta1, 0.999), no weight decay,
# no gradient clipping; each dataset config sets phase 2's lr (S --classifier_lr), which
# TwoPhaseScheduleHook reads from here
optim_wrapper = dict(
    optimizer=dict(type='Adam', betas=(0.5, 0.999), weight_decay=0.0),
    clip_grad=None)
train_cfg = dict(max_epochs=30)  # S --nepoch 30 (every dataset)
