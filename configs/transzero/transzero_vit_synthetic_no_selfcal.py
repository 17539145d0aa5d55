# configs/transzero/transzero_vit_synthetic.py without the self-calibration loss (the row of
# the comparison without that transductive term). The cross-entropy still runs over all
# classes, as released (ce_classes='all'), so the unseen classes' attribute vectors are still
# read in training as negatives of the softmax; transzero_vit_synthetic_inductive.py removes
# that too.
_base_ = ['./transzero_vit_synthetic.py']

model = dict(head=dict(self_calibration=None))
