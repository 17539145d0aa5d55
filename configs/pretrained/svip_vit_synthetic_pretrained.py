# SVIP on the default synthetic data, starting from a ViT pretrained on the generated `source`
# data (configs/pretrain/vit_synthetic_source.py: other shapes and colours, no class of this
# data), as SVIP starts from an ImageNet-pretrained ViT in the paper. Otherwise
# configs/svip_vit_synthetic.py.
#
# The first data_preparation step runs the pretraining (about as long as a baseline run, once:
# it is cached by the pretraining config's digest) and writes the backbone weights, which the
# backbone loads through init_cfg as a CUB run loads timm weights. The pretraining seed is
# fixed (one pretrained model for every fine-tuning seed, as one set of ImageNet weights);
# to vary it, set data_preparation.0.seed, data_preparation.0.out and
# model.backbone.init_cfg.checkpoint together.
_base_ = ['../svip_vit_synthetic.py']

data_root = 'data/synthetic_zsl'
word_vectors = data_root + '/attribute_glove50.npy'
pretrained = 'data/pretrained/vit_synthetic_source_seed0.pth'

data_preparation = [
    dict(type='pretrained_backbone', config='configs/pretrain/vit_synthetic_source.py',
         seed=0, out=pretrained),
    dict(type='synthetic_zsl'),
    dict(type='attribute_embeddings', names_file=data_root + '/attributes/attributes.txt',
         out=word_vectors, backend='glove', dataset='cub'),
]

model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# The paper's two-phase schedule (first the new modules alone with the ViT at lr 0, then
# everything), new modules at the default job's 1e-3 (they start from scratch as there);
# phase1_epochs and the ViT's phase-2 lr were tuned on seed 0 only, over a grid declared before
# any run (how, and the figures: configs/pretrained/README.md). 5e-4 is the grid's top edge.
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(two_phase_schedule=dict(phase1_epochs=4))
