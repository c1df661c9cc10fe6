"""cnnviz: see how convolutional neural networks work.

The backend of the dashboard, the notebooks and the `cnnviz` command. Plain PyTorch and numpy;
it never imports streamlit.
"""

from .arithmetic import OutputSize, conv_output_size, explain_output_size, pool_output_size
from .checkpoints import Checkpoint, CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import (
    DATASETS,
    DatasetUnavailable,
    ImageData,
    ImageError,
    dataset_status,
    decode_image,
    image_to_tensor,
    load_dataset,
    load_fashion_mnist,
    load_image_folder,
    sample_images,
)
from .models import (
    ZOO,
    ModelSpec,
    ModelSummary,
    WeightsUnavailable,
    build_model,
    imagenet_categories,
    imagenet_weights_status,
    layer_names,
    load_imagenet_model,
    summarize,
)

__version__ = "0.1.0"

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ModelSpec",
    "ModelSummary",
    "WeightsUnavailable",
    "ZOO",
    "build_model",
    "imagenet_categories",
    "imagenet_weights_status",
    "layer_names",
    "load_checkpoint",
    "load_imagenet_model",
    "model_from_checkpoint",
    "save_checkpoint",
    "summarize",
    "DATASETS",
    "DatasetUnavailable",
    "ImageData",
    "ImageError",
    "OutputSize",
    "conv_output_size",
    "dataset_status",
    "decode_image",
    "explain_output_size",
    "image_to_tensor",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "pool_output_size",
    "sample_images",
]
