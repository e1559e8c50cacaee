"""chaingrad's optimizers (plays ``torch.optim``): update rules that read each
parameter's ``grad`` and change its ``data`` in place, and learning-rate schedules.

    >>> import optim
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)   # doctest: +SKIP
    >>> loss.backward(); opt.step(); opt.zero_grad()                 # doctest: +SKIP
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
