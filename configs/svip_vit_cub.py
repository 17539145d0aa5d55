# SVIP on CUB (xlsa17 split) with ViT-B/16 at 224 px and the official hyperparameters.
#
# Files to provide (datasets are not downloaded; the ViT weights named below are, once):
# - data/CUB: the xlsa17 files + CUB_200_2011 images (python tools/check_dataset.py ZSLCUB);
# - word vectors of the 312 attribute names. The paper's vectors (word2vec GoogleNews 300-d,
#   the released phrase rules, summed):  python tools/extract_attribute_embeddings.py
#   --dataset cub --names data/CUB/attributes/attributes.txt --backend word2vec-bin
#   --vectors GoogleNews-vectors-negative300.bin --phrase-rules released
#   --out data/CUB/attribute_vectors.npy
#   (other vectors, e.g. fastText: --backend fasttext --vectors cc.en.300.bin, differ from them)
# - a pretrained ViT-B/16, named below by its timm hub name: the backbone's init_weights
#   (at the start of training) fetches it once into huggingface_hub's cache
#   (HF_HUB_CACHE, by default ~/.cache/huggingface/hub; with HF_HUB_OFFLINE=1 it must be
#   there already). Without network, set `pretrained` to a local timm (.pth /
#   .safetensors) or mmpretrain file instead. The
#   official results most likely used timm's vit_base_patch16_224.orig_in21k_ft_in1k; its
#   ImageNet-21k pretraining has seen many of CUB's unseen classes, so an ImageNet-1k-only
#   model (e.g. timm's vit_base_patch16_224.augreg_in1k) gives the cleaner zero-shot
#   result. Record which weights you used with every number.
_base_ = ['_base_/datasets/zsl_cub.py', '_base_/models/svip_vit_b16.py',
          '_base_/schedules/svip_two_phase.py', '_base_/zsl_runtime.py']

# training uses every seen class (trainval), so there is no validation set to select a
# checkpoint on: the last one is the result, and the test split is evaluated once at the end
val_dataloader = None
val_cfg = None
val_evaluator = None

# timm's hub name (fetched into huggingface_hub's cache); an http(s):// URL (torch.hub's
# cache) or a local file work too:
# pretrained = 'checkpoints/vit_base_patch16_224.orig_in21k_ft_in1k.safetensors'
pretrained = 'timm/vit_base_patch16_224.orig_in21k_ft_in1k'
word_vectors = 'data/CUB/attribute_vectors.npy'

model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(num_attributes=312, keep_k=40, word_vectors=word_vectors,
              loss=dict(type='SVIPSelectorLoss', mode='bce', loss_weight=3.0)),
    # the released code applies its decorrelation weight 0.3 twice: 0.09 reproduces it
    head=dict(num_attributes=312, num_classes=200,
              decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.09)))

# phase 2's lr (TwoPhaseScheduleHook reads it from the optimizer)
optim_wrapper = dict(optimizer=dict(lr=3e-5, betas=(0.5, 0.999)))
# phase 1 of TwoPhaseScheduleHook (_base_/zsl_runtime.py)
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=4, phase1_lr=5e-5))
train_cfg = dict(max_epochs=30)
