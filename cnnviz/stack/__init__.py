"""Layer stacks: a list of layer dicts -> shapes, parameters and receptive fields, and a PyTorch model.

The spec format (the training studio consumes it too)::

    [{"type": "conv", "out_channels": 32, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1, "activation": "relu"},
     {"type": "pool", "mode": "max", "kernel": 2, "stride": 2},
     {"type": "flatten"},
     {"type": "linear", "out_features": 10, "activation": None}]

with an input shape (C, H, W). Optional keys take PyTorch's defaults (conv stride 1, padding 0, dilation 1;
pool stride = kernel, padding 0). ``padding`` may also be "valid" (0) or "same" (keeps the size at stride 1).
A ``{"type": "dropout", "p": 0.5}`` layer is accepted too (no parameters, shape unchanged).

``analysis`` checks a stack without PyTorch, ``build`` makes and verifies it in PyTorch, ``presets`` holds the
notes' networks as stacks, ``tables`` turns a stack into editable rows and back.
"""

from .analysis import LAYER_TYPES, STACK_ACTIVATIONS, LayerInfo, LayerProblem, StackAnalysis, analyze_stack
from .build import Verification, build_stack, torch_failure, verify_stack
from .presets import PRESETS, StackPreset, preset
from .tables import TABLE_COLUMNS, from_table, to_table

__all__ = ["LAYER_TYPES", "STACK_ACTIVATIONS", "PRESETS", "LayerInfo", "LayerProblem", "StackAnalysis", "StackPreset",
           "TABLE_COLUMNS", "Verification", "analyze_stack", "build_stack", "from_table", "preset", "to_table",
           "torch_failure", "verify_stack"]
