"""Two context managers for modules: eval mode, and frozen parameters, each restored on the way out.

    >>> with evaluating(G):            # eval mode inside, each module's mode restored after
    ...     images = G(z)
    >>> with frozen(D):                # D's parameters need no gradient inside (G's step)
    ...     g_loss = generator_loss(D(G(z)))
"""
import contextlib


@contextlib.contextmanager
def evaluating(*modules):
    """Put the modules in eval mode inside the block; restore each one's train/eval mode after."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


@contextlib.contextmanager
def frozen(*modules):
    """Turn off ``requires_grad`` on the modules' parameters inside the block (a generator step
    needs no gradients for the discriminator's weights, which saves their computation)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
