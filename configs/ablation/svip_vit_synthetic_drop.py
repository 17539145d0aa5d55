# Ablation: SVIP without contextualisation. The units the selector does not keep are dropped
# (their patch embeddings set to zero; the tokens keep their position embedding) instead of
# receiving the word-vector context token. Everything else as configs/svip_vit_synthetic.py.
_base_ = ['../svip_vit_synthetic.py']

model = dict(neck=dict(context_mode='drop'))
