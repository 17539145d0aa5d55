# configs/transzero/transzero_vit_synthetic.py starting from the same pretrained source ViT as
# configs/pretrained/baseline_vit_synthetic_pretrained.py, with the same schedule: the head
# alone for 1 epoch (phase 1), then everything at lr 5e-4 (the baseline's tuned value), so
# the two differ only in the head. The released TransZero keeps its backbone frozen; to run
# that regime here, make phase 1 the whole run:
#   --cfg-options default_hooks.two_phase_schedule.phase1_epochs=30
#   default_hooks.two_phase_schedule.phase1_lr=5e-4
_base_ = ['./transzero_vit_synthetic.py']

pretrained = 'data/pretrained/vit_synthetic_source_seed0.pth'
data_root = 'data/synthetic_zsl'
word_vectors = data_root + '/attribute_glove50.npy'

data_preparation = [
    dict(type='pretrained_backbone', config='configs/pretrain/vit_synthetic_source.py',
         seed=0, out=pretrained),
    dict(type='synthetic_zsl'),
    dict(type='attribute_embeddings', names_file=data_root + '/attributes/attributes.txt',
         out=word_vectors, backend='glove', dataset='cub'),
]

model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# as configs/pretrained/baseline_vit_synthetic_pretrained.py
optim_wrapper = dict(optimizer=dict(lr=5e-4))
