"""The one map from spec names to layer classes."""
from __future__ import annotations

from cnncli.layers.activation import LeakyReLU, ReLU, ReLU6, Sigmoid, Softmax, Tanh
from cnncli.layers.base import Layer
from cnncli.layers.conv import Conv2d
from cnncli.layers.dense import Dense, Flatten
from cnncli.layers.merge import Add, Concat
from cnncli.layers.norm import BatchNorm, Dropout
from cnncli.layers.pool import AdaptiveAvgPool, AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool

LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type_name: cls
    for cls in (Conv2d, MaxPool, AvgPool, GlobalAvgPool, GlobalMaxPool, AdaptiveAvgPool, BatchNorm,
                Dropout, Dense, Flatten, ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, Softmax, Add, Concat)
}

ACTIVATIONS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax")
