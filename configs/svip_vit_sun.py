# SVIP on SUN (xlsa17 split) with ViT-B/16 at 224 px and the official hyperparameters.
# Files to provide: data/SUN (xlsa17 files + images; tools/check_dataset.py ZSLSUN), word
# vectors of the 102 attribute names and a pretrained ViT-B/16 (see
# configs/svip_vit_cub.py on the choice of weights). The paper's word vectors (word2vec
# GoogleNews 300-d, the released phrase rules, summed):
#   python tools/extract_attribute_embeddings.py --dataset sun --names data/SUN/attributes.mat
#   --backend word2vec-bin --vectors GoogleNews-vectors-negative300.bin --phrase-rules released
#   --out data/SUN/attribute_vectors.npy
_base_ = ['_base_/datasets/zsl_sun.py', '_base_/models/svip_vit_b16.py',
          '_base_/schedules/svip_two_phase.py', '_base_/zsl_runtime.py']

# training uses every seen class (trainval), so there is no validation set to select a
# checkpoint on: the last one is the result, and the test split is evaluated once at the end
val_dataloader = None
val_cfg = None
val_evaluator = None

# timm's hub name (fetched into huggingface_hub's cache, see configs/svip_vit_cub.py);
# without network, a local file:
# pretrained = 'checkpoints/vit_base_patch16_224.orig_in21k_ft_in1k.safetensors'
pretrained = 'timm/vit_base_patch16_224.orig_in21k_ft_in1k'
word_vectors = 'data/SUN/attribute_vectors.npy'

model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(num_attributes=102, keep_k=45, word_vectors=word_vectors,
              loss=dict(type='SVIPSelectorLoss', mode='bce', loss_weight=3.0)),
    # the released code applies its decorrelation weight 0.3 twice: 0.09 reproduces it
    head=dict(num_attributes=102, num_classes=717,
              decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.09)))

# phase 2's lr (TwoPhaseScheduleHook reads it from the optimizer)
optim_wrapper = dict(optimizer=dict(lr=1e-5, betas=(0.5, 0.999)))
# phase 1 of TwoPhaseScheduleHook (_base_/zsl_runtime.py)
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=4, phase1_lr=1e-4))
train_cfg = dict(max_epochs=50)
