"""The model zoo, its ImageNet weights and Keras-style summaries.

* ``zoo``: every network of the lecture notes and torchvision's backbones by name (``ZOO``, ``build_model``);
* ``imagenet``: the ImageNet weights (bundled EfficientNet-Lite0, torchvision's), input configs, class names;
* ``summary``: ``summarize`` (a Keras-style table of layers and parameters) and the notes' Keras tables.
"""

from .imagenet import (
    BUNDLED_PACKAGE,
    InputConfig,
    WeightsUnavailable,
    imagenet_categories,
    imagenet_class_label,
    imagenet_class_labels,
    imagenet_input_config,
    imagenet_weights_status,
    load_imagenet_model,
    map_state_dict_by_order,
    weights_hint,
)
from .summary import KerasTable, ModelSummary, SummaryRow, keras_param_counts, notes_keras_table, summarize
from .zoo import ZOO, ModelSpec, build_model, input_shape_for, layer_names, seeded

__all__ = [
    "BUNDLED_PACKAGE",
    "InputConfig",
    "KerasTable",
    "ModelSpec",
    "ModelSummary",
    "SummaryRow",
    "WeightsUnavailable",
    "ZOO",
    "build_model",
    "imagenet_categories",
    "imagenet_class_label",
    "imagenet_class_labels",
    "imagenet_input_config",
    "imagenet_weights_status",
    "input_shape_for",
    "keras_param_counts",
    "layer_names",
    "load_imagenet_model",
    "map_state_dict_by_order",
    "notes_keras_table",
    "seeded",
    "summarize",
    "weights_hint",
]
