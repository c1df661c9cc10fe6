"""Transfer learning: reuse a trained backbone, and compare the ways of doing it on the same data and budget.

The lecture notes put VGG16, MobileNetV2 and ResNet50 (ImageNet weights) under a new 128-64-10 head on
CIFAR-10 and freeze the backbone. Here the same recipe is one function, ``build_transfer_model``,
for four strategies:

- ``scratch``: the same architecture, randomly initialised, everything trained;
- ``frozen``: the pretrained backbone is frozen, only the new head learns (the notes' recipe);
- ``last_block``: the backbone's last block is unfrozen too (fine-tune the top);
- ``full``: every weight is fine-tuned, starting from the pretrained ones.

``run_comparison`` trains them one after the other with ``cnnviz.training.fit`` (same target data,
epochs, batch size, optimiser and learning rate; the new head starts from the same random weights),
records the test accuracy per epoch and wall time, the parameter counts and how far each layer's
weights moved (|ΔW|/|W|). ``ComparisonJob`` runs it in a background thread, in a folder of its own under the
runs folder whose JSON file holds the results so far while it runs (``list_comparisons``/``load_comparison``
reopen it; ``comparison_state`` tells a finished, stopped, running or interrupted one apart).

Sources: offline, the project's own CNN (``mnist_cnn``) pretrained *here* on some Fashion-MNIST
classes (``heldout_source``, cached under the runs folder) and moved to the other, held-out classes
with few labels each, or to a user's images; with ImageNet weights in the torch hub cache (or
downloadable), torchvision's VGG16, MobileNetV2, ResNet-18 and ResNet-50.

The modules, one idea each:

- ``strategies``: the four strategies and the model surgery (``TransferNet``, ``build_transfer_model``);
- ``params``: parameter counts, Keras-like summaries per strategy, how far each layer's weights moved;
- ``config``: the sources and targets to choose from and ``ComparisonConfig``;
- ``data``: target images adapted to the source, few-shot splits, safe zip extraction;
- ``sources``: the pretrained source models (held-out CNN pretrained here, shipped CNN, ImageNet);
- ``results``: comparison results, saved as JSON and reopened;
- ``compare``: ``run_comparison`` and the background ``ComparisonJob``.
"""

from .compare import ComparisonJob, ComparisonProgress, run_comparison
from .config import SHORT_NAMES, SOURCES, TARGETS, ComparisonConfig
from .data import adapt_images, extract_image_zip, few_shot_split, load_image_zip, prepare_target, split_folder
from .params import LayerChange, ParamCounts, TransferSummary, count_parameters, strategy_table, transfer_summary, weight_change
from .results import (
    ComparisonResult,
    StrategyResult,
    comparison_state,
    delete_comparison,
    labelled_rows,
    list_comparisons,
    load_comparison,
    result_rows,
    save_comparison,
    write_comparison,
)
from .sources import IMAGENET_MEAN, IMAGENET_STD, heldout_source, imagenet_status, load_source, runs_root
from .strategies import IMAGENET_BACKBONES, STRATEGIES, TransferNet, build_transfer_model

__all__ = [
    "IMAGENET_BACKBONES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SHORT_NAMES",
    "SOURCES",
    "STRATEGIES",
    "TARGETS",
    "ComparisonConfig",
    "ComparisonJob",
    "ComparisonProgress",
    "ComparisonResult",
    "LayerChange",
    "ParamCounts",
    "StrategyResult",
    "TransferNet",
    "TransferSummary",
    "adapt_images",
    "build_transfer_model",
    "comparison_state",
    "count_parameters",
    "extract_image_zip",
    "few_shot_split",
    "heldout_source",
    "imagenet_status",
    "delete_comparison",
    "list_comparisons",
    "load_comparison",
    "load_image_zip",
    "load_source",
    "prepare_target",
    "labelled_rows",
    "result_rows",
    "run_comparison",
    "runs_root",
    "save_comparison",
    "split_folder",
    "strategy_table",
    "transfer_summary",
    "weight_change",
    "write_comparison",
]
