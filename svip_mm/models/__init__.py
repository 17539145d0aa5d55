from . import backbones, classifiers, heads, losses, necks, utils  # noqa: F401
