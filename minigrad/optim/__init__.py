"""Optimizers (``optimizers.py``) and learning-rate schedulers (``lr_scheduler.py``), with
``torch.optim``'s names, defaults and state dicts.

>>> from minigrad import nn, optim
>>> model = nn.Linear(4, 2)
>>> opt = optim.AdamW(model.parameters(), lr=1e-3)
>>> sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
"""

from . import lr_scheduler
from .optimizers import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    Optimizer,
    RAdam,
    RMSprop,
)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "AdaGrad", "Adagrad",
           "RMSprop", "OPTIMIZERS", "lr_scheduler"]
