# APN (Xu et al., "Attribute Prototype Network for Zero-Shot Learning", NeurIPS 2020) on AwA2
# (xlsa17 split) with a ViT-B/16 at 224 px in place of the paper's ResNet-101, and the released
# hyperparameters. Sources: R = the released code, github.com/wenjiaXu/APN-ZSL;
# S = its script/AWA2_GZSL.sh (the GZSL run: our protocol evaluates GZSL and ZSL from one model).
# docs/apn.md lists what differs from the published method.
#
# Files to provide: data/AWA2 (xlsa17 files + JPEGImages; tools/check_dataset.py ZSLAWA2) and a
# pretrained ViT-B/16, named by its timm hub name in _apn_vit_b16.py.
_base_ = ['../_base_/datasets/zsl_awa2.py', './_apn_vit_b16.py',
          '../_base_/zsl_runtime.py']

val_dataloader = None
val_cfg = None
val_evaluator = None

# R model/main_utils.py get_loader (transform_complex off): resize the short side to 256,
# centre crop 224, no flip; the last incomplete batch is kept. S --batch_size 64.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs', algorithm_keys=['is_unseen']),
]
train_dataloader = dict(batch_size=64, drop_last=False, dataset=dict(pipeline=train_pipeline))

model = dict(
    head=dict(
        num_attributes=85,
        num_classes=50,
        global_pooling='mean',  # S --avg_pool (R model/model_proto.py: avg_pool2d)
        global_regression=dict(type='AttributeRegressionLoss', loss_weight=1e-4),  # S --attri
        local_regression=dict(type='AttributeRegressionLoss', loss_weight=1e-2),  # S --l_attri
        # S has no --use_group: R model/main_utils.py Loss_fn then adds the norm of the whole
        # prototype matrix (weight.norm(2)), S --regular 5e-4 (on W), --l_regular 0.5e-6 (on P)
        global_decorrelation=dict(type='PrototypeDecorrelationLoss', loss_weight=5e-4,
                                  norm='group', grouping='whole'),
        local_decorrelation=dict(type='PrototypeDecorrelationLoss', loss_weight=5e-7,
                                 norm='group', grouping='whole'),
        # S passes --cpt 2e-9, but R model/main_utils.py Loss_fn adds compactness only under
        # --use_group, which S does not set: no compactness term
        compactness=dict(type='AttributeCompactnessLoss', loss_weight=0.0)))

# phase 2's lr: S --classifier_lr 1e-7 (the optimizer: _apn_vit_b16.py)
optim_wrapper = dict(optimizer=dict(lr=1e-7))
# R model/main.py: the prototypes alone while epoch <= pretrain_epoch (0-based), i.e.
# S --pretrain_epoch 2 -> 3 epochs, at S --pretrain_lr 1e-4; then everything at
# classifier_lr * 0.8 ** (epoch // 10)
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=3, phase1_lr=1e-4, step_epochs=10,
                                             gamma=0.8))

# S --calibrated_stacking 0.7 and --all (per-sample accuracy), both on the test set; the honest
# protocol takes gamma from tools/calibrate.py and reports per-class accuracy (GZSLMetric).
