"""Datasets, images and the server's image folders.

* ``datasets``: labelled sets held in memory (``ImageData``): the bundled Fashion-MNIST and MNIST, torchvision's
  CIFAR-10, whether each is here, and class names in the reader's language;
* ``images``: uploads and files decoded safely whatever they hold, turned into tensors; the sample photos;
* ``folders``: the folders a dashboard user may name (``data_roots``) and a folder of images as a dataset;
* ``paths``: where the assets and the download folder are (``paths.DEFAULT_ROOT``, read there at every use).
"""

from .datasets import (
    CIFAR10_CLASSES,
    DATASETS,
    FASHION_CLASSES,
    FASHION_DIR,
    MNIST_CLASSES,
    MNIST_DIR,
    MNIST_SHA256,
    DatasetInfo,
    DatasetUnavailable,
    ImageData,
    class_label,
    dataset_status,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)
from .folders import (MAX_FOLDER_FILES, ROOTS_ENV, allowed_folder, data_roots, folder_files, inside_roots,
                      load_image_folder, working_side)
from .images import (
    IMAGE_EXTENSIONS,
    LARGE_DECODE,
    MAX_IMAGE_PIXELS,
    PILLOW_HARD_LIMIT,
    SAMPLE_TITLES,
    SAMPLES_DIR,
    ImageError,
    ImageTooLarge,
    decode_image,
    decoded_pixels,
    image_to_tensor,
    sample_images,
    sample_title,
)
from .paths import ASSETS, DEFAULT_ROOT

__all__ = [
    "ASSETS",
    "CIFAR10_CLASSES",
    "DATASETS",
    "DEFAULT_ROOT",
    "FASHION_CLASSES",
    "FASHION_DIR",
    "IMAGE_EXTENSIONS",
    "LARGE_DECODE",
    "MAX_FOLDER_FILES",
    "MAX_IMAGE_PIXELS",
    "MNIST_CLASSES",
    "MNIST_DIR",
    "MNIST_SHA256",
    "PILLOW_HARD_LIMIT",
    "ROOTS_ENV",
    "SAMPLE_TITLES",
    "SAMPLES_DIR",
    "DatasetInfo",
    "DatasetUnavailable",
    "ImageData",
    "ImageError",
    "ImageTooLarge",
    "allowed_folder",
    "class_label",
    "data_roots",
    "folder_files",
    "dataset_status",
    "decode_image",
    "decoded_pixels",
    "image_to_tensor",
    "load_dataset",
    "load_fashion_mnist",
    "inside_roots",
    "load_mnist",
    "load_image_folder",
    "read_idx",
    "sample_images",
    "sample_title",
    "working_side",
]
