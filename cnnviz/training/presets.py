"""Ready-made runs: the lecture notes' settings and the studio's fast and accurate ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cpu import bf16_fast

__all__ = ["PRESETS", "TrainPreset"]


@dataclass(frozen=True)
class TrainPreset:
    """A ready-made run: the lecture notes' settings, or the studio's fast one."""

    name: str
    title: str
    model: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    momentum: float = 0.9
    augment: bool = False
    train_size: int | None = None
    log_every: int | None = None  # None: the trainer's default
    schedule: str = "constant"
    bf16: bool = False  # bfloat16 autocast, used only where the CPU runs it natively (bf16_fast())
    description: str = ""

    def options(self) -> dict[str, Any]:
        """The keyword options of ``fit`` this preset sets."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "optimizer": self.optimizer, "lr": self.lr,
                "momentum": self.momentum, "augment": self.augment, "log_every": self.log_every,
                "schedule": self.schedule, "bf16": self.bf16 and bf16_fast()}


PRESETS: dict[str, TrainPreset] = {
    p.name: p
    for p in [
        TrainPreset("pytorch_mnist", "Notes: PyTorch MNIST net (SGD 0.01, momentum 0.5)", "mnist_cnn", "sgd", 0.01, 64, 10,
                    momentum=0.5,
                    description="The notes' PyTorch run: the 3-conv net, SGD lr 0.01 momentum 0.5, batch 64, 10 epochs."),
        TrainPreset("tf_mnist", "Notes: TensorFlow MNIST net (Adam 1e-4, batch 50)", "tf_mnist", "adam", 1e-4, 50, 2,
                    log_every=100,
                    description="The notes' TensorFlow tutorial: Adam 1e-4, batch 50, training accuracy every 100 steps."),
        TrainPreset("simple_convnet", "Notes: SimpleConvNet (Adam 1e-3)", "simple_convnet", "adam", 1e-3, 100, 5,
                    description="The notes' from-scratch SimpleConvNet trained with Adam, lr 0.001."),
        TrainPreset("fast", "Fast: SimpleConvNet, one-cycle Adam (about a minute)", "simple_convnet", "adam", 3e-3, 256, 8,
                    schedule="onecycle",
                    description="Large batches and a one-cycle learning rate: above 0.91 test accuracy on "
                                "Fashion-MNIST in about a minute on a 2-core laptop."),
        TrainPreset("accurate", "Accurate: PyTorch MNIST net, augmentation, 30 epochs (7-15 minutes)", "mnist_cnn",
                    "adam", 2e-3, 128, 30, augment=True, schedule="onecycle", bf16=True,
                    description="Augmentation and a one-cycle learning rate over 30 epochs: 0.933 test accuracy on "
                                "Fashion-MNIST in 7 minutes on a 2-core CPU with bfloat16 (about twice as long without)."),
    ]
}
