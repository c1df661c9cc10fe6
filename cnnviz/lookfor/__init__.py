"""What does a filter look for? Receptive fields, top-activating examples and activation maximization.

Three answers, as in DeepVis and Distill's "Feature Visualization" (Olah et al. 2017), one module each:

* ``receptive_fields``: which input pixels one cell of a layer's map can see, traced through the model's real
  forward pass (convolutions, pooling, padding — also TensorFlow's 'same' padding — and skip connections).
* ``examples``: ``index_layer`` runs a layer over a set of images once and keeps each channel's strongest
  positions; ``top_examples`` then shows the images (or image patches) that excite a channel most, each cropped to
  the receptive field around its strongest position, with the activation value.
* ``optimize``: ``visualize_channel``, an input optimized by gradient ascent to excite one channel, made readable
  the way Lucid/Lucent do it: a Fourier-space image with a 1/f spectrum, decorrelated colours, a sigmoid to keep
  pixels in range, and random jitter, scale and rotation at every step; snapshots show it improving.

``layers`` runs a model up to one layer on a private copy, for all three.
"""

from .examples import Example, ImageSet, LayerIndex, crop, folder_set, image_set, index_layer, photo_set, top_examples
from .layers import channel_count, check_channel
from .optimize import OBJECTIVES, Visualization, default_settings, stage_row, visualize_channel, visualize_channels
from .receptive_fields import ReceptiveField, receptive_field

__all__ = [
    "Example",
    "ImageSet",
    "LayerIndex",
    "OBJECTIVES",
    "ReceptiveField",
    "Visualization",
    "channel_count",
    "check_channel",
    "crop",
    "default_settings",
    "folder_set",
    "image_set",
    "index_layer",
    "photo_set",
    "receptive_field",
    "stage_row",
    "top_examples",
    "visualize_channel",
    "visualize_channels",
]
