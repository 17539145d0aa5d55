# The "ViT + attribute head" baseline (configs/baseline_vit_synthetic.py: mmpretrain's
# ImageClassifier and VisionTransformer with svip_mm's attribute head) starting from the same
# pretrained ViT as configs/pretrained/svip_vit_synthetic_pretrained.py, with the same
# schedule: the comparison of SVIP and the baseline in the regime SVIP was designed for.
#
# mmpretrain's VisionTransformer loads the step's file through MMEngine's Pretrained init
# (its keys are the backbone's own, unprefixed; MMEngine loads non-strictly, so the test
# tests/test_engine/test_pretraining_stage.py checks that every weight arrives).
_base_ = ['../baseline_vit_synthetic.py']

pretrained = 'data/pretrained/vit_synthetic_source_seed0.pth'

data_preparation = [
    dict(type='pretrained_backbone', config='configs/pretrain/vit_synthetic_source.py',
         seed=0, out=pretrained),
    dict(type='synthetic_zsl'),
]

model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# Tuned as the SVIP config, on its own (same grid, seed 0 only; configs/pretrained/README.md):
# phase1_epochs 1 (the default) and lr 5e-4. SVIPOptimWrapperConstructor
# (inherited) puts the ImageClassifier's head.* in the 'new' group and backbone.* in
# 'pretrained', so phase 1 trains the attribute head alone with the ViT at lr 0.
optim_wrapper = dict(optimizer=dict(lr=5e-4))
