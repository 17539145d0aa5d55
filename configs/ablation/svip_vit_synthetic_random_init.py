# Ablation: SVIP whose context token is a free learned vector with random initialisation
# instead of being built from the attribute word vectors. Everything else as
# configs/svip_vit_synthetic.py.
_base_ = ['../svip_vit_synthetic.py']

model = dict(neck=dict(context_init='random'))
