# The embedded default job: SVIP with a tiny ViT (64 px, patch 8, selection per patch: 8x8 units)
# trained from scratch on the generated synthetic dataset, on the CPU, with real GloVe word
# vectors of the attribute names. Figures and command: configs/README.md.
_base_ = ['_base_/datasets/zsl_synthetic.py', '_base_/models/svip_vit_tiny.py',
          '_base_/schedules/synthetic_two_phase.py', '_base_/zsl_runtime.py']

data_root = 'data/synthetic_zsl'
data_preparation = [
    dict(type='synthetic_zsl'),  # the training set's data, generated if absent
    dict(type='attribute_embeddings', names_file=data_root + '/attributes/attributes.txt',
         out=data_root + '/attribute_glove50.npy', backend='glove', dataset='cub'),
]

# after training, the test also writes summary figures (selection, attention, attributes) of a
# few test images, seen and unseen, to <work_dir>/visualization
default_hooks = dict(visualization=dict(
    _delete_=True, type='SVIPVisualizationHook', enable=True, max_images=6, interval=170))
