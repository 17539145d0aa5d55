# TransZero on CUB (xlsa17 split) over frozen ViT-B/16 patch tokens, with the released GZSL
# hyperparameters of shiming-chen/TransZero (cited per number: model.py, train_cub.py,
# wandb_config/cub_gzsl.yaml). Departures from the published method: docs/transzero.md.
#
# Files to provide:
# - data/CUB: the xlsa17 files + CUB_200_2011 images (python tools/check_dataset.py ZSLCUB);
# - 300-d GloVe vectors of the 312 attribute names, as data/CUB/attribute_glove300.npy. The
#   released ones are w2v/CUB_attribute.pkl of shiming-chen/TransZero (a pickled numpy array
#   [312, 300]; unpickle only what you trust); or extract them from a GloVe 300-d text file:
#   python tools/extract_attribute_embeddings.py --dataset cub
#   --names data/CUB/attributes/attributes.txt --backend text --vectors glove.6B.300d.txt
#   --out data/CUB/attribute_glove300.npy
# - a pretrained ViT-B/16 (see configs/svip_vit_cub.py on the choice of weights; `pretrained`
#   of _transzero_vit_b16_frozen.py names timm's hub weights, fetched once).
#
# TRANSDUCTIVE USE OF UNSEEN CLASS ATTRIBUTES: the self-calibration loss and the
# cross-entropy over all classes read the unseen classes' attribute vectors in training, as
# published. For the inductive row: --cfg-options model.head.self_calibration=None
# model.head.ce_classes=seen
_base_ = ['../_base_/datasets/zsl_cub.py', './_transzero_vit_b16_frozen.py',
          '../_base_/zsl_runtime.py']

# training uses every seen class (trainval): no validation set to select a checkpoint on; the
# last checkpoint is the result (the released scripts report the best test H and the best
# test ZSL accuracy over all epochs, each picked on the test set)
val_dataloader = None
val_cfg = None
val_evaluator = None

word_vectors = 'data/CUB/attribute_glove300.npy'
epochs = 200  # wandb_config/cub_gzsl.yaml: epochs 200 (train_cub.py: ntrain * epochs // batch)

model = dict(head=dict(
    num_attributes=312,
    num_classes=200,
    word_vectors=word_vectors,
    embed_dims=300,  # wandb_config/cub_gzsl.yaml: tf_common_dim 300
    feedforward_channels=512,  # wandb_config/cub_gzsl.yaml: tf_dim_feedforward 512
    dropout=0.4,  # wandb_config/cub_gzsl.yaml: tf_dropout 0.4
    decoder_self_attention=True,  # wandb_config/cub_gzsl.yaml: tf_SAtt True
    normalize_word_vectors=False,  # wandb_config/cub_gzsl.yaml: normalize_V False
    # wandb_config/cub_gzsl.yaml: lambda_ 0.3, lambda_reg 0.005
    self_calibration=dict(type='SelfCalibrationLoss', loss_weight=0.3),
    attribute_regression=dict(type='AttributeRegressionLoss', loss_weight=0.005)))

# train_cub.py: optim.Adam(lr=0.0001, weight_decay=0.0001), torch's default betas; no
# schedule, no gradient clipping
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999),
                                    weight_decay=1e-4))
# the head at 1e-4 for the whole run, the backbone at 0 (_transzero_vit_b16_frozen.py)
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=epochs, phase1_lr=1e-4))
train_cfg = dict(max_epochs=epochs)
# wandb_config/cub_gzsl.yaml: batch_size 50
train_dataloader = dict(batch_size=50)
# wandb_config/cub_gzsl.yaml: random_seed 5
randomness = dict(seed=5)
