# APN (configs/apn/apn_vit_synthetic.py) starting from the same pretrained ViT as
# configs/pretrained/baseline_vit_synthetic_pretrained.py, with the same data preparation and
# schedule: APN and the attribute-head baseline compared in the pretrained regime.
#
# mmpretrain's VisionTransformer loads the step's file through MMEngine's Pretrained init (its
# keys are the backbone's own, unprefixed).
_base_ = ['./apn_vit_synthetic.py']

pretrained = 'data/pretrained/vit_synthetic_source_seed0.pth'

data_preparation = [
    dict(type='pretrained_backbone', config='configs/pretrain/vit_synthetic_source.py',
         seed=0, out=pretrained),
    dict(type='synthetic_zsl'),
]

model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# The baseline's pretrained-regime learning rate (configs/pretrained/README.md), not tuned for
# APN: phase 1 (the default 1 epoch at 1e-3) trains APNHead's prototypes alone
# (SVIPOptimWrapperConstructor puts head.* in the 'new' group, the ViT at lr 0), then all at
# 5e-4.
optim_wrapper = dict(optimizer=dict(lr=5e-4))
