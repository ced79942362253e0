"""minigan.optim: SGD, Adam, AdamW, RMSprop and learning-rate schedulers, with torch.optim's names and
semantics.

    >>> from minigan import nn, optim
    >>> G = nn.Linear(2, 2)
    >>> opt = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    >>> sched = optim.lr_scheduler.LinearDecayLR(opt, n_epochs=100, n_epochs_decay=100)
"""
from . import lr_scheduler
from .lr_scheduler import (CosineAnnealingLR, ExponentialLR, LambdaLR, LinearDecayLR, LRScheduler,
                           MultiStepLR, ReduceLROnPlateau, StepLR)
from .optimizer import SGD, Adam, AdamW, Optimizer, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler", "LRScheduler",
           "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearDecayLR", "ReduceLROnPlateau"]
