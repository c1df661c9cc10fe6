"""Safe checkpoints: weights plus what is needed to rebuild the model, written atomically.

A cnnviz checkpoint is a ``torch.save``d dict of tensors and plain values only, so it loads with
``torch.load(..., weights_only=True)``: a file that would run code when unpickled is refused.
A bare ``state_dict`` (from any PyTorch script) loads too, given the architecture's name.
``storage`` writes and reads the file; ``rebuild`` makes the model from it.
"""

from .rebuild import MAX_ACTIVATIONS, model_from_checkpoint
from .storage import (FORMAT, MAX_CHECKPOINT_BYTES, MAX_CLASSES, Checkpoint, CheckpointError, load_checkpoint,
                      save_checkpoint)

__all__ = ["FORMAT", "MAX_ACTIVATIONS", "MAX_CHECKPOINT_BYTES", "MAX_CLASSES", "Checkpoint", "CheckpointError",
           "load_checkpoint", "model_from_checkpoint", "save_checkpoint"]
