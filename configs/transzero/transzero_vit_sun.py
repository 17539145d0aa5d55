# TransZero on SUN (xlsa17 split) over frozen ViT-B/16 patch tokens, with the released GZSL
# hyperparameters of shiming-chen/TransZero (cited per number: model.py, train_sun.py,
# wandb_config/sun_gzsl.yaml). Departures from the published method: docs/transzero.md.
#
# Files to provide: data/SUN (xlsa17 files + images; tools/check_dataset.py ZSLSUN), 300-d
# GloVe vectors of the 102 attribute names as data/SUN/attribute_glove300.npy (released:
# w2v/SUN_attribute.pkl; or tools/extract_attribute_embeddings.py --dataset sun
# --names data/SUN/attributes.mat --backend text --vectors glove.6B.300d.txt --out ...),
# and a pretrained ViT-B/16 (see transzero_vit_cub.py).
#
# TRANSDUCTIVE USE OF UNSEEN CLASS ATTRIBUTES: as in transzero_vit_cub.py.
_base_ = ['../_base_/datasets/zsl_sun.py', './_transzero_vit_b16_frozen.py',
          '../_base_/zsl_runtime.py']

# training uses every seen class (trainval): no validation set to select a checkpoint on; the
# last checkpoint is the result (the released scripts report the best test H and the best
# test ZSL accuracy over all epochs, each picked on the test set)
val_dataloader = None
val_cfg = None
val_evaluator = None

word_vectors = 'data/SUN/attribute_glove300.npy'
epochs = 400  # wandb_config/sun_gzsl.yaml: epochs 400

model = dict(head=dict(
    num_attributes=102,
    num_classes=717,
    word_vectors=word_vectors,
    embed_dims=128,  # wandb_config/sun_gzsl.yaml: tf_common_dim 128
    feedforward_channels=2048,  # wandb_config/sun_gzsl.yaml: tf_dim_feedforward 2048
    dropout=0.3,  # wandb_config/sun_gzsl.yaml: tf_dropout 0.3
    decoder_self_attention=False,  # wandb_config/sun_gzsl.yaml: tf_SAtt False
    normalize_word_vectors=False,  # wandb_config/sun_gzsl.yaml: normalize_V False
    # wandb_config/sun_gzsl.yaml: lambda_ 0.25, lambda_reg 0.001
    self_calibration=dict(type='SelfCalibrationLoss', loss_weight=0.25),
    attribute_regression=dict(type='AttributeRegressionLoss', loss_weight=1e-3)))

# train_sun.py: optim.SGD(lr=0.0001, weight_decay=0.0001, momentum=0.9); no schedule, no
# gradient clipping
optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4))
# the head at 1e-4 for the whole run, the backbone at 0 (_transzero_vit_b16_frozen.py)
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=epochs, phase1_lr=1e-4))
train_cfg = dict(max_epochs=epochs)
# wandb_config/sun_gzsl.yaml: batch_size 50
train_dataloader = dict(batch_size=50)
# wandb_config/sun_gzsl.yaml: random_seed 6
randomness = dict(seed=6)
