# TransZero on AwA2 (xlsa17 split) over frozen ViT-B/16 patch tokens, with the released GZSL
# hyperparameters of shiming-chen/TransZero (cited per number: model.py, train_awa2.py,
# wandb_config/awa2_gzsl.yaml). Departures from the published method: docs/transzero.md.
#
# Files to provide: data/AWA2 (xlsa17 files + JPEGImages; tools/check_dataset.py ZSLAWA2),
# 300-d GloVe vectors of the 85 predicates as data/AWA2/attribute_glove300.npy (released:
# w2v/AWA2_attribute.pkl; or tools/extract_attribute_embeddings.py --dataset awa2
# --names data/AWA2/predicates.txt --backend text --vectors glove.6B.300d.txt --out ...),
# and a pretrained ViT-B/16 (see transzero_vit_cub.py).
#
# TRANSDUCTIVE USE OF UNSEEN CLASS ATTRIBUTES: as in transzero_vit_cub.py.
_base_ = ['../_base_/datasets/zsl_awa2.py', './_transzero_vit_b16_frozen.py',
          '../_base_/zsl_runtime.py']

# training uses every seen class (trainval): no validation set to select a checkpoint on; the
# last checkpoint is the result (the released scripts report the best test H and the best
# test ZSL accuracy over all epochs, each picked on the test set)
val_dataloader = None
val_cfg = None
val_evaluator = None

word_vectors = 'data/AWA2/attribute_glove300.npy'
epochs = 200  # wandb_config/awa2_gzsl.yaml: epochs 200

model = dict(head=dict(
    num_attributes=85,
    num_classes=50,
    word_vectors=word_vectors,
    embed_dims=300,  # wandb_config/awa2_gzsl.yaml: tf_common_dim 300
    feedforward_channels=512,  # wandb_config/awa2_gzsl.yaml: tf_dim_feedforward 512
    dropout=0.5,  # wandb_config/awa2_gzsl.yaml: tf_dropout 0.5
    decoder_self_attention=True,  # wandb_config/awa2_gzsl.yaml: tf_SAtt True
    normalize_word_vectors=True,  # wandb_config/awa2_gzsl.yaml: normalize_V True
    clip_negative_attributes=True,  # train_awa2.py: att[att < 0] = 0
    # wandb_config/awa2_gzsl.yaml: lambda_ 2, lambda_reg 0.0005
    self_calibration=dict(type='SelfCalibrationLoss', loss_weight=2.0),
    attribute_regression=dict(type='AttributeRegressionLoss', loss_weight=5e-4)))

# train_awa2.py: optim.SGD(lr=0.0001, weight_decay=0.0001, momentum=0.); no schedule, no
# gradient clipping
optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-4, momentum=0.0, weight_decay=1e-4))
# the head at 1e-4 for the whole run, the backbone at 0 (_transzero_vit_b16_frozen.py)
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=epochs, phase1_lr=1e-4))
train_cfg = dict(max_epochs=epochs)
# wandb_config/awa2_gzsl.yaml: batch_size 50
train_dataloader = dict(batch_size=50)
# wandb_config/awa2_gzsl.yaml: random_seed 17
randomness = dict(seed=17)
