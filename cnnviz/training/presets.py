"""Ready-made runs: the lecture notes' settings and the studio's fast and accurate ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..i18n import N_
from .cpu import bf16_fast

__all__ = ["PRESETS", "TrainPreset", "run_estimate_s", "run_steps"]


def run_steps(epochs: int, images: int, batch_size: int) -> int:
    """Optimizer steps of a run, counted as ``fit`` counts them (a last batch of a single image is left out)."""
    per_epoch = images // batch_size if images % batch_size == 1 else -(-images // batch_size)
    return int(epochs) * max(per_epoch, 1)


def run_estimate_s(steps: int, batch_size: int, images_per_s: float) -> float:
    """Seconds ``steps`` steps of ``batch_size`` images take at a training speed of ``images_per_s`` (plus a test pass
    per epoch, ~5 %)."""
    return steps * batch_size / max(images_per_s, 1.0) * 1.05


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
    # bfloat16 autocast where the CPU computes it natively (bf16_fast()), float32 elsewhere: every preset, since the
    # accuracy stays within seed-to-seed noise (tests/test_speed.py) and it trains about 1.6x faster there (bench_training)
    bf16: bool = True
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    description: str = ""
    dataset: str = "fashion_mnist"  # what it trains on: the notes' runs on MNIST, the fast and accurate ones on Fashion
    max_steps: int | None = None  # the run ends at this step, mid-epoch if need be (the notes' TensorFlow run)
    bf16_epochs: int | None = None  # epochs where the CPU computes bfloat16 natively: the same minutes go further

    def epochs_for(self, bf16: bool) -> int:
        """The epochs of this preset trained in bfloat16 (``bf16_epochs`` when it has them) or in float32."""
        return self.bf16_epochs if bf16 and self.bf16_epochs else self.epochs

    @property
    def run_bf16(self) -> bool:
        """Whether this preset trains in bfloat16 on this CPU: only where it computes it natively."""
        return self.bf16 and bf16_fast()

    @property
    def run_epochs(self) -> int:
        """The epochs this preset runs on this CPU: ``bf16_epochs`` where it trains in bfloat16, else ``epochs``."""
        return self.epochs_for(self.run_bf16)

    @property
    def steps(self) -> int:
        """Optimizer steps of the whole run (all 60,000 training images when train_size is None)."""
        steps = run_steps(self.run_epochs, self.train_size or 60_000, self.batch_size)
        return min(steps, self.max_steps) if self.max_steps else steps

    def estimate_s(self, images_per_s: float) -> float:
        """Seconds the run takes at a training speed of ``images_per_s`` (plus a test pass per epoch, ~5 %)."""
        return run_estimate_s(self.steps, self.batch_size, images_per_s)

    def run_settings(self) -> dict[str, Any]:
        """The settings of a run (``cnnviz.runs.RunConfig``'s fields) this preset fixes: bfloat16 only where this
        CPU runs it natively; ``train_size`` None is every training image."""
        return {"model": self.model, "optimizer": self.optimizer, "lr": self.lr, "batch_size": self.batch_size,
                "epochs": self.run_epochs, "momentum": self.momentum, "augment": self.augment, "schedule": self.schedule,
                "train_size": self.train_size, "log_every": self.log_every, "label_smoothing": self.label_smoothing,
                "weight_decay": self.weight_decay, "bf16": self.run_bf16}

    def options(self) -> dict[str, Any]:
        """The keyword options of ``fit`` this preset sets."""
        return {"epochs": self.run_epochs, "batch_size": self.batch_size, "optimizer": self.optimizer, "lr": self.lr,
                "momentum": self.momentum, "augment": self.augment, "log_every": self.log_every,
                "schedule": self.schedule, "bf16": self.run_bf16, "label_smoothing": self.label_smoothing,
                "weight_decay": self.weight_decay, "max_steps": self.max_steps}


PRESETS: dict[str, TrainPreset] = {
    p.name: p
    for p in [
        # The lecture notes' runs, as the notes ran them: on MNIST, every training image, their epochs or steps
        TrainPreset("pytorch_mnist", N_("Notes: PyTorch MNIST net (SGD 0.01, momentum 0.5)"), "mnist_cnn", "sgd", 0.01,
                    64, 10, momentum=0.5, dataset="mnist",
                    description=N_("The notes' PyTorch run on MNIST: the 3-conv net, SGD lr 0.01 momentum 0.5, batch "
                                   "64, 10 epochs over all 60,000 training images; training and test loss and test "
                                   "accuracy after every epoch.")),
        TrainPreset("tf_mnist", N_("Notes: TensorFlow MNIST net (Adam 1e-4, 10,000 steps of 50)"), "tf_mnist", "adam",
                    1e-4, 50, 9, log_every=100, dataset="mnist", max_steps=10_000,
                    description=N_("The notes' TensorFlow tutorial on MNIST: Adam 1e-4, exactly 10,000 steps of 50 "
                                   "images (8.3 epochs of 60,000), training accuracy every 100 steps, test accuracy "
                                   "at the end.")),
        TrainPreset("simple_convnet", N_("Notes: SimpleConvNet (Adam 1e-3, 20 epochs)"), "simple_convnet", "adam", 1e-3,
                    100, 20, dataset="mnist",
                    description=N_("The notes' from-scratch SimpleConvNet on MNIST, trained with Adam, lr 0.001, batch "
                                   "100, 20 epochs over all 60,000 training images.")),
        # Measured in float32 on a 2-core CPU running as an AVX2-only one (benchmarks/bench_training.py --avx2):
        # what every CPU reaches; one with native bfloat16 gets there sooner
        TrainPreset("fast", N_("Fast: SimpleConvNet, one-cycle Adam (0.91 in about a minute on 2 cores)"),
                    "simple_convnet", "adam", 2e-3, 128, 6, schedule="onecycle",
                    description=N_("Batches of 128 and a one-cycle learning rate over 6 epochs: 0.91 test accuracy on "
                                   "Fashion-MNIST after 4 epochs, about a minute of float32 training on a quiet 2-core "
                                   "CPU, and 0.918 after all 6 (about 80 seconds).")),
        # Measured on a quiet 2-core AVX-512 CPU (bench_training.py --ten-minutes): float32, 11 epochs, 0.9338 at
        # 556 s; bfloat16, 11 epochs 0.9329 at 495 s, 13 epochs 0.9357 at 577 s (0.9360 after epoch 12)
        TrainPreset("accurate", N_("Accurate: small batch-norm CNN, SGD, augmentation (about 10 minutes)"),
                    "bn_convnet", "sgd", 0.1, 128, 11, momentum=0.9, augment=True, schedule="onecycle",
                    label_smoothing=0.1, weight_decay=5e-4, bf16_epochs=13,
                    description=N_("Not one of the notes' runs: a small VGG-style network with batch normalization, "
                                   "SGD (momentum 0.9, weight decay 0.0005) with a one-cycle learning rate up to 0.1, "
                                   "batch 128, augmentation (shifts and flips) and label smoothing 0.1: 11 epochs in "
                                   "float32 (0.934–0.936 test accuracy on Fashion-MNIST, seed to seed, in about 9 "
                                   "minutes on a 2-core CPU), or 13 where the CPU computes bfloat16 natively (0.936 in "
                                   "about 10 minutes). The training loss includes the smoothing, so it stays above "
                                   "about 0.5.")),
    ]
}
