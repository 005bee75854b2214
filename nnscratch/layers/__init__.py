"""nnscratch.layers: every layer has forward(x, training) and a hand-written backward(dy)."""
from nnscratch.layers.activation import Activation, LeakyReLU, ReLU, Softmax
from nnscratch.layers.base import Layer
from nnscratch.layers.conv import Conv2D
from nnscratch.layers.dense import Dense
from nnscratch.layers.dropout import Dropout
from nnscratch.layers.global_pooling import GlobalAveragePooling2D, GlobalMaxPooling2D
from nnscratch.layers.input_layer import Input, InputLayer, SymbolicTensor
from nnscratch.layers.merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                                    concatenate, maximum, minimum, multiply, subtract)
from nnscratch.layers.symbolic import NoBackwardError
from nnscratch.layers.variable import Variable
from nnscratch.layers.normalization import BatchNormalization
from nnscratch.layers.pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D
from nnscratch.layers.reshaping import Flatten, Reshape, ZeroPadding2D
from nnscratch.naming import lookup

Convolution2D = Conv2D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D

_LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (Activation, LeakyReLU, ReLU, Softmax, Conv2D, Dense, Dropout, InputLayer,
                AveragePooling2D, MaxPooling2D, Flatten, Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
                BatchNormalization, GlobalAveragePooling2D, GlobalMaxPooling2D, Reshape, ZeroPadding2D)
}


def register(cls):
    """Make a layer class known to ``deserialize`` (used by whole-model loading)."""
    _LAYER_CLASSES[cls.__name__] = cls
    return cls


def get_layer_class(name):
    return lookup("layer class", _LAYER_CLASSES, name, plural="layer classes")


def serialize(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config):
    return get_layer_class(config["class_name"]).from_config(dict(config["config"]))


__all__ = [
    "Layer", "Dense", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D",
    "AvgPool2D", "Flatten", "Dropout", "Activation", "ReLU", "LeakyReLU", "Softmax", "Input",
    "InputLayer", "SymbolicTensor", "Add", "Subtract", "Multiply", "Average", "Concatenate",
    "BatchNormalization", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
    "Reshape", "ZeroPadding2D", "Maximum", "Minimum", "add", "subtract", "multiply", "average", "maximum",
    "minimum", "concatenate", "NoBackwardError", "Variable", "register", "serialize", "deserialize", "get_layer_class",
]
