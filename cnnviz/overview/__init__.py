"""The whole network at once, as CNN Explainer shows one: one image through every layer, and the arithmetic of any
cell with the real numbers.

* ``trace``: ``trace_network`` runs one image and keeps every layer's output and input (``Column``), in the order
  the forward pass runs them; a big network keeps its first and last layers.
* ``arithmetic``: ``cell_arithmetic`` / ``cell_chain``: how one cell is computed (windows × kernels, sums, bias,
  activation, pooling, linear units), equal to what PyTorch computed.
"""

from .arithmetic import Step, Term, cell_arithmetic, cell_chain, same_padding
from .trace import Column, NetworkTrace, column_kind, trace_network

__all__ = ["Column", "NetworkTrace", "Step", "Term", "cell_arithmetic", "cell_chain", "column_kind", "same_padding",
           "trace_network"]
