from .safe_checkpoint import allow_mmengine_checkpoints, load_weights_file

allow_mmengine_checkpoints()

__all__ = ['allow_mmengine_checkpoints', 'load_weights_file']
