"""DistributedDataParallel: one model replica per rank, gradients averaged when backward ends.

As torch.nn.parallel.DistributedDataParallel:

- at wrap, rank 0's parameters and buffers are broadcast, so every rank starts from the same model
  (and a rank built with another architecture is refused, naming the first parameter that differs);
- ``forward`` runs the module; its output passes through an identity op whose backward, the first
  time it runs in a backward pass, notes every parameter's current ``.grad`` and queues the
  reduction for the end of that pass (``autograd.api.queue_callback``);
- the reduction takes the parameters whose ``.grad`` changed in the pass (so a frozen D, a detached
  fake or a second model's backward is not reduced), agrees on that set over the ranks with one
  small all-reduce (a parameter used on some ranks only counts as a zero gradient on the others),
  then averages their ``.grad`` with one all-reduce per bucket of about ``bucket_cap_mb``;
- in ``no_sync()`` the parameters that got a gradient are remembered and reduced with the next
  backward outside it (gradient accumulation);
- with ``broadcast_buffers`` (default) a training-mode forward first copies rank 0's buffers
  (BatchNorm running statistics) to the others; SyncBatchNorm keeps them equal anyway.

The reduction runs after backward, not overlapped with it (docs/distributed.md says what that
costs). With a loss that is a mean over the per-rank batch, averaging the gradients gives the
gradient of the mean over the global batch.

    >>> dist.init_process_group("mpi")
    >>> D = DistributedDataParallel(D)                  # D.module is the wrapped model
    >>> loss = criterion(D(x), y); loss.backward()      # .grad is averaged over the ranks here
    >>> with D.no_sync(): loss1.backward()              # accumulate locally, reduce on the next
"""
import contextlib

import numpy as np

from .. import backend
from .. import distributed as dist
from ..autograd import Function, Tensor, is_grad_enabled
from ..autograd.api import queue_callback
from .module import Module


class _ReduceOnBackward(Function):
    """Identity in forward; its backward tells the wrapper `ddp` that a backward pass reached it."""

    @staticmethod
    def forward(ctx, output, ddp):
        ctx.ddp = ddp
        return output

    @staticmethod
    def backward(ctx, grad):
        ctx.ddp._backward_reached()
        return grad, None


def _coalesced(arrays, cap_bytes):
    """Split range(len(arrays)) into runs of one dtype and device, each up to about `cap_bytes`."""
    buckets, current, size = [], [], 0
    for i, array in enumerate(arrays):
        kind = (array.dtype, backend.device_of(array))
        if current and (kind != kind_of_current or size + array.nbytes > cap_bytes):
            buckets.append(current)
            current, size = [], 0
        current.append(i)
        size, kind_of_current = size + array.nbytes, kind
    return buckets + ([current] if current else [])


def _flat(bucket):
    """One contiguous 1-D array holding the bucket's arrays one after the other."""
    xp = backend.get_array_module(bucket[0])
    return xp.concatenate([a.reshape(-1) for a in bucket])


def _unflat(flat, bucket):
    """The pieces of `flat`, shaped like the arrays of `bucket` (views of `flat`)."""
    pieces, start = [], 0
    for array in bucket:
        pieces.append(flat[start:start + array.size].reshape(array.shape))
        start += array.size
    return pieces


class DistributedDataParallel(Module):
    """Wraps ``module`` for data-parallel training; see the module docstring.

    Args:
        module: the model (already on its device, the same architecture on every rank).
        broadcast_buffers: copy rank 0's buffers to every rank at each training-mode forward.
        bucket_cap_mb: the size of one gradient all-reduce (25, torch's default).
    Needs ``minigan.distributed.init_process_group()`` first. ``state_dict()`` keys start with
    "module." as torch's; save ``ddp.module.state_dict()`` for a checkpoint that loads unwrapped.
    """

    def __init__(self, module, broadcast_buffers=True, bucket_cap_mb=25):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got "
                            f"{type(module).__name__}")
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: the process group is not initialized; "
                               "call minigan.distributed.init_process_group() first")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self._cap_bytes = int(bucket_cap_mb * 2 ** 20)
        self._sync = True
        self._snapshot = None        # each parameter's .grad when the current backward pass began
        self._pending = set()        # indices of the parameters with gradients not yet reduced
        self._check_same_model()
        self._broadcast([p.array for p in self._params()] + self._buffer_arrays())

    def _params(self):
        return list(self.module.parameters())

    def _buffer_arrays(self):
        return [b.array for b in self.module.buffers()]

    # ---------------------------------------------------------- wrap-time agreement
    def _check_same_model(self):
        mine = [(name, tuple(p.shape), p.dtype.str) for name, p in self.module.named_parameters()]
        everyone = dist.all_gather_object([None] * dist.get_world_size(), mine)
        for rank, theirs in enumerate(everyone):
            if theirs != mine:
                first = next((f"{a} vs {b}" for a, b in zip(mine, theirs) if a != b),
                             f"{len(mine)} vs {len(theirs)} parameters")
                raise RuntimeError(f"DistributedDataParallel: rank {dist.get_rank()}'s module "
                                   f"differs from rank {rank}'s ({first}); every rank must build "
                                   f"the same model")

    def _broadcast(self, arrays):
        """Copy rank 0's `arrays` into every rank's, one broadcast per bucket."""
        if dist.get_world_size() == 1:
            return
        arrays = [a for a in arrays if a.size]
        for indices in _coalesced(arrays, self._cap_bytes):
            bucket = [arrays[i] for i in indices]
            flat = dist.broadcast(_flat(bucket), src=0)
            for array, value in zip(bucket, _unflat(flat, bucket)):
                array[...] = value

    # ---------------------------------------------------------- forward and the backward hook
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.module.training and dist.get_world_size() > 1:
            self._broadcast(self._buffer_arrays())
        output = self.module(*inputs, **kwargs)
        if not is_grad_enabled():
            return output
        if isinstance(output, Tensor):
            return self._mark(output)
        if isinstance(output, (tuple, list)):
            return type(output)(self._mark(o) if isinstance(o, Tensor) else o for o in output)
        return output

    def _mark(self, output):
        return _ReduceOnBackward.apply(output, self) if output.requires_grad else output

    def _backward_reached(self):
        if self._snapshot is None:                  # the first output reached in this pass
            self._snapshot = [p.grad for p in self._params()]
            queue_callback(self._backward_finished)

    def _backward_finished(self):
        snapshot = self._snapshot
        self._snapshot = None
        params = self._params()
        self._pending.update(i for i, p in enumerate(params) if p.grad is not snapshot[i])
        if self._sync:
            self.reduce_gradients()

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside only accumulate; the next one outside reduces all of it."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    # ---------------------------------------------------------- the reduction
    def reduce_gradients(self):
        """Average, over the ranks, the ``.grad`` of every parameter that got one since the last
        reduction on any rank. Runs by itself at the end of backward; call it directly only for
        gradients made without this wrapper's forward. A collective: every rank calls it."""
        params = self._params()
        world = dist.get_world_size()
        if world == 1:
            self._pending.clear()
            return
        flags = np.zeros(len(params), dtype=np.int32)
        flags[sorted(self._pending)] = 1
        self._pending.clear()
        dist.all_reduce(flags, dist.ReduceOp.SUM)    # how many ranks have each gradient
        chosen = [p for p, count in zip(params, flags) if count > 0]
        for p in chosen:
            if p.grad is None:                      # unused here, used elsewhere: a zero gradient
                p.grad = Tensor(backend.get_array_module(p.array).zeros_like(p.array))
        grads = [p.grad.array for p in chosen]
        for indices in _coalesced(grads, self._cap_bytes):
            bucket = [grads[i] for i in indices]
            flat = dist.all_reduce(_flat(bucket), dist.ReduceOp.AVG)
            for i, value in zip(indices, _unflat(flat, bucket)):
                chosen[i].grad = Tensor(value)    # a new array: two grads may share one

    def extra_repr(self):
        return f"world_size={dist.get_world_size()}, broadcast_buffers={self.broadcast_buffers}"


def unwrap(model):
    """The model inside a DistributedDataParallel (``model.module``), or ``model`` itself: what a
    checkpoint or a sample grid should use, so that its keys and calls are the plain model's."""
    return model.module if isinstance(model, DistributedDataParallel) else model
