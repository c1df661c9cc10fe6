"""cnnviz: see how convolutional neural networks work.

The backend of the dashboard, the notebooks and the `cnnviz` command. Plain PyTorch and numpy;
it never imports streamlit.
"""

from . import capture, cards, drawing, gradcam, lookfor, ops, runs, stack, training, transfer
from .arithmetic import (
    OutputSize,
    conv_output_size,
    explain_output_size,
    pool_output_size,
    same_padding,
    window_cells,
)
from .capture import FeatureMaps, FilterGrid, Prediction, feature_maps, filter_grid, predict
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
from .gradcam import grad_cam
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
from .stack import analyze_stack, build_stack, verify_stack
from .training import EpochRecord, History, StepRecord, TrainJob, fit, pretrained_checkpoints
from .transfer import ComparisonConfig, ComparisonResult, build_transfer_model, run_comparison

__version__ = "0.1.0"

__all__ = [
    "analyze_stack",
    "build_model",
    "build_stack",
    "build_transfer_model",
    "capture",
    "cards",
    "Checkpoint",
    "CheckpointError",
    "ComparisonConfig",
    "ComparisonResult",
    "conv_output_size",
    "dataset_status",
    "DATASETS",
    "DatasetUnavailable",
    "decode_image",
    "drawing",
    "EpochRecord",
    "explain_output_size",
    "feature_maps",
    "FeatureMaps",
    "filter_grid",
    "FilterGrid",
    "fit",
    "grad_cam",
    "gradcam",
    "History",
    "image_to_tensor",
    "ImageData",
    "ImageError",
    "imagenet_categories",
    "imagenet_weights_status",
    "layer_names",
    "load_checkpoint",
    "load_dataset",
    "load_fashion_mnist",
    "load_image_folder",
    "load_imagenet_model",
    "lookfor",
    "model_from_checkpoint",
    "ModelSpec",
    "ModelSummary",
    "ops",
    "OutputSize",
    "pool_output_size",
    "predict",
    "Prediction",
    "pretrained_checkpoints",
    "run_comparison",
    "runs",
    "same_padding",
    "sample_images",
    "save_checkpoint",
    "stack",
    "StepRecord",
    "summarize",
    "training",
    "TrainJob",
    "transfer",
    "verify_stack",
    "WeightsUnavailable",
    "window_cells",
    "ZOO",
]
