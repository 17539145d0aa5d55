# SVIP on AwA2 (xlsa17 split) with ViT-B/16 at 224 px and the official hyperparameters.
# Files to provide: data/AWA2 (xlsa17 files + JPEGImages; tools/check_dataset.py ZSLAWA2),
# word vectors of the 85 predicates and a pretrained ViT-B/16 (see
# configs/svip_vit_cub.py on the choice of weights). The paper's word vectors (word2vec
# GoogleNews 300-d, the released phrase rules, summed):
#   python tools/extract_attribute_embeddings.py --dataset awa2 --names data/AWA2/predicates.txt
#   --backend word2vec-bin --vectors GoogleNews-vectors-negative300.bin --phrase-rules released
#   --out data/AWA2/attribute_vectors.npy
_base_ = ['_base_/datasets/zsl_awa2.py', '_base_/models/svip_vit_b16.py',
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
word_vectors = 'data/AWA2/attribute_vectors.npy'

model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(num_attributes=85, keep_k=45, word_vectors=word_vectors,
              loss=dict(type='SVIPSelectorLoss', mode='bce', loss_weight=4.0)),
    # official decorrelation weight 1.0 (applied twice there, 1.0 * 1.0)
    head=dict(num_attributes=85, num_classes=50,
              decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=1.0)))

# phase 2's lr (TwoPhaseScheduleHook reads it from the optimizer)
optim_wrapper = dict(optimizer=dict(lr=3e-6, betas=(0.8, 0.999)))
# phase 1 of TwoPhaseScheduleHook (_base_/zsl_runtime.py)
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=6, phase1_lr=1e-6))
train_cfg = dict(max_epochs=30)
