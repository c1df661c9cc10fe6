"""cnnviz: see how convolutional neural networks work.

The backend of the dashboard, the notebooks and the `cnnviz` command. Plain PyTorch and numpy; it never imports
streamlit. What a notebook needs is here, by name:

- output sizes: ``conv_output_size``, ``pool_output_size``, ``explain_output_size`` (``OutputSize``);
- the lecture notes' networks: ``ZOO``, ``build_model``, ``summarize`` (``ModelSummary``), ``layer_names``, and the
  ImageNet network: ``load_imagenet_model``, ``imagenet_categories``, ``imagenet_weights_status``;
- data: ``DATASETS``, ``load_dataset``, ``load_fashion_mnist``, ``dataset_status``, ``ImageData``, ``decode_image``,
  ``sample_images``;
- looking inside: ``feature_maps``, ``filter_grid``, ``predict``, ``grad_cam`` (``FeatureMaps``, ``FilterGrid``,
  ``Prediction``);
- layer stacks: ``analyze_stack``, ``build_stack``;
- training: ``fit`` (``History``) and ``TrainJob`` (a run in the background); transfer learning: ``run_comparison``,
  ``ComparisonConfig``, ``build_transfer_model``;
- checkpoints: ``save_checkpoint``, ``load_checkpoint``, ``model_from_checkpoint`` (``Checkpoint``);
- the errors to catch: ``ImageError``, ``DatasetUnavailable``, ``WeightsUnavailable``, ``CheckpointError``.

Everything else lives in the submodules, one idea each (``cnnviz.ops`` for the convolution lab's operations,
``cnnviz.stack``, ``cnnviz.lookfor``, ``cnnviz.runs``, ``cnnviz.plots`` for the figures, ...).
"""

import os as _os

# PyTorch's OpenMP threads sleep while they wait for work instead of spinning. On a machine whose cores are shared (a
# class server, a browser on the same laptop, another process) spinning threads wait for a partner the OS has not
# scheduled and burn the CPU everyone needs: fit on 2 threads under load measured 46 images/s spinning and 720
# sleeping, for 9.6 against 2.7 CPU-s. Read by OpenMP when torch loads, so only if cnnviz is imported first (the
# `cnnviz` command, the dashboard's pages); a value already set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import capture, cards, data, drawing, gradcam, lookfor, models, ops, runs, stack, training, transfer
from .arithmetic import OutputSize, conv_output_size, explain_output_size, pool_output_size
from .capture import FeatureMaps, FilterGrid, Prediction, feature_maps, filter_grid, predict
from .checkpoints import Checkpoint, CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import (
    DATASETS,
    DatasetUnavailable,
    ImageData,
    ImageError,
    dataset_status,
    decode_image,
    load_dataset,
    load_fashion_mnist,
    sample_images,
)
from .gradcam import grad_cam
from .models import (
    ZOO,
    ModelSummary,
    WeightsUnavailable,
    build_model,
    imagenet_categories,
    imagenet_weights_status,
    layer_names,
    load_imagenet_model,
    summarize,
)
from .stack import analyze_stack, build_stack
from .training import History, TrainJob, fit
from .transfer import ComparisonConfig, build_transfer_model, run_comparison

__version__ = "0.1.0"

__all__ = [
    # output sizes
    "OutputSize", "conv_output_size", "explain_output_size", "pool_output_size",
    # the model zoo and the ImageNet network
    "ZOO", "ModelSummary", "WeightsUnavailable", "build_model", "imagenet_categories", "imagenet_weights_status",
    "layer_names", "load_imagenet_model", "summarize",
    # data
    "DATASETS", "DatasetUnavailable", "ImageData", "ImageError", "dataset_status", "decode_image", "load_dataset",
    "load_fashion_mnist", "sample_images",
    # looking inside
    "FeatureMaps", "FilterGrid", "Prediction", "feature_maps", "filter_grid", "grad_cam", "predict",
    # layer stacks, training, transfer learning, checkpoints
    "analyze_stack", "build_stack", "History", "TrainJob", "fit", "ComparisonConfig", "build_transfer_model",
    "run_comparison", "Checkpoint", "CheckpointError", "load_checkpoint", "model_from_checkpoint", "save_checkpoint",
    # the submodules
    "capture", "cards", "data", "drawing", "gradcam", "lookfor", "models", "ops", "runs", "stack", "training",
    "transfer",
]
