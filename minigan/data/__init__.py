"""Datasets, transforms and the DataLoader.

Generated data (nothing is downloaded): ``RingOfGaussians`` / ``RingDataset`` (2-D mode-collapse
benchmark, with ``ring_metrics``), ``SyntheticDigits`` and the procedural scenes (``scenes``). Real
formats: ``MNISTFormat`` (idx files), ``ImageFolder`` (one class), ``AlignedFolder`` (pix2pix) and
``UnpairedFolder`` (CycleGAN). ``DataLoader`` batches any dataset deterministically.
"""
from . import scenes, transforms
from .digits import SyntheticDigits, render_digit
from .folder import (IMAGE_EXTENSIONS, ImageFolder, ImageReadError, list_images, load_image,
                     read_image)
from .idx import IdxFormatError, MNISTFormat, read_idx
from .loader import DataLoader, Dataset, Subset, collate, sample_rng
from .paired import AlignedFolder, UnpairedFolder, detect_layout
from .ring import RingDataset, RingOfGaussians, ring_metrics
from .scenes import PairedSceneTest, SceneImages, SceneLabelsToPhoto, UnpairedScenes, render_scene

__all__ = [
    "DataLoader", "Dataset", "Subset", "collate", "sample_rng", "transforms",
    "RingOfGaussians", "RingDataset", "ring_metrics", "SyntheticDigits", "render_digit",
    "MNISTFormat", "read_idx", "IdxFormatError",
    "ImageFolder", "ImageReadError", "IMAGE_EXTENSIONS", "list_images", "read_image", "load_image",
    "AlignedFolder", "UnpairedFolder", "detect_layout",
    "scenes", "SceneImages", "render_scene", "SceneLabelsToPhoto", "UnpairedScenes", "PairedSceneTest",
]
