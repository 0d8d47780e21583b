"""Neural-network modules, initialisers and regularisers (``torch.nn``-like)."""

from .. import functional
from . import init, utils
from .activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    Tanhshrink,
)
from .attention import MultiheadAttention
from .layers import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AlphaDropout,
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    ElmanRNN,
    Embedding,
    Flatten,
    Identity,
    Linear,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
    Unflatten,
    Upsample,
    l1_penalty,
    l2_penalty,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell

__all__ = [
    "Module", "Parameter", "Linear", "Identity", "Flatten", "Unflatten", "Dropout",
    "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "MaxUnpool1d", "MaxUnpool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Upsample",
    "Embedding", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
    "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus", "GELU", "Mish", "SiLU",
    "Softsign", "LogSigmoid", "Hardsigmoid", "Hardswish", "LeakyReLU", "ELU", "CELU", "SELU",
    "Hardtanh", "ReLU6", "Tanhshrink", "Softmin", "PReLU",
    "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "ElmanRNN",
    "MultiheadAttention",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
    "BCEWithLogitsLoss", "KLDivLoss",
    "l1_penalty", "l2_penalty", "init", "functional", "utils",
]


def __getattr__(name):
    # nn.parallel (DistributedDataParallel) loads on first use, as in PyTorch
    if name == "parallel":
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'minigrad.nn' has no attribute {name!r}")
