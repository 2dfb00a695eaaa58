"""cnncli: design, size and train convolutional neural networks from a YAML spec."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cnncli")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
