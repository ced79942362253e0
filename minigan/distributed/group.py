"""The process group and its collectives, with torch.distributed's names, over MPI or NCCL.

One process per rank, started by ``mpiexec -n N python script.py``. ``init_process_group`` joins
them; every collective below must then be called by every rank, in the same order:

    backend "mpi":  mpi4py's COMM_WORLD moves NumPy arrays (CuPy arrays go through the host).
    backend "nccl": CuPy's NCCL bindings move CuPy arrays on each rank's GPU (the GPU is the local
                    rank on its node, modulo the GPUs it has); the NCCL unique id is broadcast over
                    MPI, and NumPy arrays still go over MPI.
    backend "auto": "nccl" when CuPy sees a GPU, else "mpi".

mpi4py is imported here and nowhere else, and only by ``init_process_group``.

Failure: a rank that raises takes the whole job down (``MPI_Abort`` from ``sys.excepthook``); a rank
that dies is reaped by ``mpiexec``; a collective that waits longer than ``timeout`` (a rank hung, or
ran different code) prints which rank waited where, and aborts the job.

    >>> from minigan import distributed as dist
    >>> dist.init_process_group("mpi")
    >>> x = mg.ones(3) * dist.get_rank()
    >>> dist.all_reduce(x, op=dist.ReduceOp.SUM)       # in place: every rank now holds 0+1+...
"""
import datetime
import importlib
import sys
import threading
import time

import numpy as np

from .. import backend as arrays
from ..autograd import Tensor

BACKENDS = ("mpi", "nccl", "auto")
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


class ReduceOp:
    """The reductions ``all_reduce`` takes (torch.distributed.ReduceOp's names)."""
    SUM = "sum"
    AVG = "avg"
    MAX = "max"


_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX)
_group = None                       # the process group once init_process_group has run


class _Watchdog(threading.Thread):
    """Aborts the job when one collective has waited longer than `timeout` seconds."""

    def __init__(self, group, timeout):
        super().__init__(name="minigan-distributed-watchdog", daemon=True)
        self.group, self.timeout = group, timeout
        self.current = None                 # (collective name, start time) while one runs
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(min(1.0, self.timeout / 4)):
            current = self.current
            if current is not None and time.monotonic() - current[1] > self.timeout:
                g = self.group
                sys.stderr.write(
                    f"\nminigan.distributed: rank {g.rank} of {g.world_size} waited more than "
                    f"{self.timeout:g} s in {current[0]}; another rank died, hung, or ran "
                    f"different code (every rank must make the same collective calls). Aborting "
                    f"the job.\n")
                sys.stderr.flush()
                g.abort()


class _Group:
    """The communicators of one job: MPI's COMM_WORLD, and NCCL's on top of it for backend nccl."""

    def __init__(self, name, MPI, timeout):
        self.name, self.MPI = name, MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        self.nccl = self.nccl_comm = None
        if name == "nccl":
            self._init_nccl()
        self.watchdog = _Watchdog(self, timeout)
        self.previous_excepthook = sys.excepthook
        if self.world_size > 1:
            self.watchdog.start()
            sys.excepthook = self._abort_on_exception

    def _init_nccl(self):
        """Pick this rank's GPU, share NCCL's unique id from rank 0 over MPI, open NCCL's comm."""
        cp = arrays.cp
        # the NCCL bindings are a submodule that `import cupy` (in backend.py) leaves unloaded
        self.nccl = importlib.import_module("cupy.cuda.nccl")
        local = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED)
        cp.cuda.Device(local.Get_rank() % cp.cuda.runtime.getDeviceCount()).use()
        local.Free()
        uid = self.comm.bcast(self.nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.nccl_comm = self.nccl.NcclCommunicator(self.world_size, uid, self.rank)

    def _abort_on_exception(self, exc_type, exc, tb):
        self.previous_excepthook(exc_type, exc, tb)
        sys.stderr.write(f"minigan.distributed: rank {self.rank} raised {exc_type.__name__}; "
                         f"aborting all {self.world_size} ranks\n")
        sys.stderr.flush()
        self.abort()

    def abort(self):
        """End every rank. The launcher forwards each rank's stderr through a pipe, and MPI_Abort can
        tear that down before the last message went through (the watchdog's line was lost in about
        one run in three): give it a moment first."""
        sys.stderr.flush()
        time.sleep(0.5)
        self.comm.Abort(1)

    def close(self):
        self.watchdog.stopped.set()
        sys.excepthook = self.previous_excepthook
        if self.nccl_comm is not None:
            self.nccl_comm.destroy()

    def call(self, what, fn, *args):
        """Run one collective under the watchdog."""
        self.watchdog.current = (what, time.monotonic())
        try:
            return fn(*args)
        finally:
            self.watchdog.current = None

    # ---------------------------------------------------------- array collectives (in place)
    def _on_nccl(self, array):
        return self.nccl_comm is not None and arrays.is_cupy_array(array)

    def _nccl_type(self, array):
        types = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
                 "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8"}
        return getattr(self.nccl, types[array.dtype.name])

    def all_reduce(self, array, op):
        if self._on_nccl(array):
            nccl_op = self.nccl.NCCL_MAX if op == ReduceOp.MAX else self.nccl.NCCL_SUM
            self.nccl_comm.allReduce(array.data.ptr, array.data.ptr, array.size,
                                     self._nccl_type(array), nccl_op,
                                     arrays.cp.cuda.get_current_stream().ptr)
        else:
            mpi_op = self.MPI.MAX if op == ReduceOp.MAX else self.MPI.SUM
            self._via_host(array, lambda a: self.comm.Allreduce(self.MPI.IN_PLACE, a, mpi_op))
        if op == ReduceOp.AVG:
            array /= self.world_size

    def broadcast(self, array, src):
        if self._on_nccl(array):
            self.nccl_comm.bcast(array.data.ptr, array.size, self._nccl_type(array), src,
                                 arrays.cp.cuda.get_current_stream().ptr)
        else:
            self._via_host(array, lambda a: self.comm.Bcast(a, root=src))

    def all_gather(self, array):
        """(world_size, *array.shape): every rank's array, in rank order."""
        xp = arrays.get_array_module(array)
        out = xp.empty((self.world_size,) + array.shape, array.dtype)
        if self._on_nccl(array):
            self.nccl_comm.allGather(array.data.ptr, out.data.ptr, array.size,
                                     self._nccl_type(array),
                                     arrays.cp.cuda.get_current_stream().ptr)
            return out
        host = np.empty(out.shape, array.dtype)
        self.comm.Allgather(np.ascontiguousarray(arrays.to_device(array, "cpu")), host)
        out[...] = arrays.to_device(host, arrays.device_of(array))
        return out

    @staticmethod
    def _via_host(array, fn):
        """Run fn on a host array in place; a CuPy array is copied out and back."""
        if arrays.is_cupy_array(array):
            host = arrays.to_device(array, "cpu")
            fn(host)
            array[...] = arrays.cp.asarray(host)
        else:
            fn(array)


# ---------------------------------------------------------------- the public functions
def _mpi(backend_name):
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"init_process_group: backend={backend_name!r} needs mpi4py and an MPI "
                           f"library (pip install 'minigan[distributed]'); importing mpi4py "
                           f"failed: {e}") from None
    return MPI


def _seconds(timeout):
    if timeout is None:
        return DEFAULT_TIMEOUT.total_seconds()
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"init_process_group: timeout must be a positive number of seconds or a "
                         f"datetime.timedelta, got {timeout!r}")
    return float(seconds)


def init_process_group(backend="auto", timeout=None):
    """Join this process to the job ``mpiexec`` started: backend "mpi", "nccl" or "auto".

    timeout: how long (seconds or ``datetime.timedelta``; 30 minutes by default) one collective may
    wait for the other ranks before the job is aborted with a message naming the collective.
    """
    global _group
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: backend must be one of {BACKENDS}, got {backend!r}")
    seconds = _seconds(timeout)
    if _group is not None:
        raise RuntimeError("init_process_group: the process group is already initialized (call "
                           "destroy_process_group() first)")
    if backend == "auto":
        backend = "nccl" if arrays.gpu_available() else "mpi"
    if backend == "nccl" and not arrays.gpu_available():
        why = "CuPy is not installed (pip install 'minigan[gpu]')" \
            if not arrays.cupy_available else "CuPy sees no CUDA device"
        raise RuntimeError(f"init_process_group: backend='nccl' needs CuPy and a GPU, but {why}; "
                           f"use backend='mpi' on the CPU")
    _group = _Group(backend, _mpi(backend), seconds)


def destroy_process_group():
    """Leave the process group (stops the watchdog); MPI itself is finalized at exit."""
    global _group
    if _group is not None:
        _group.close()
        _group = None


def is_initialized():
    return _group is not None


def _require(caller):
    if _group is None:
        raise RuntimeError(f"{caller}: the process group is not initialized; call "
                           f"minigan.distributed.init_process_group() first (under mpiexec)")
    return _group


def get_backend():
    """"mpi" or "nccl"."""
    return _require("get_backend").name


def get_rank():
    """This process's rank in [0, world_size); 0 when no process group is initialized."""
    return 0 if _group is None else _group.rank


def get_world_size():
    """How many ranks the job has; 1 when no process group is initialized."""
    return 1 if _group is None else _group.world_size


def barrier():
    """Return once every rank has called ``barrier``."""
    g = _require("barrier")
    g.call("barrier", g.comm.Barrier)


def _array(tensor, caller):
    """The raw array behind `tensor` (a Tensor, NumPy or CuPy array), which is changed in place."""
    array = tensor.array if isinstance(tensor, Tensor) else tensor
    if not (hasattr(array, "shape") and hasattr(array, "dtype")):
        raise TypeError(f"{caller}: tensor must be a Tensor or an array, got "
                        f"{type(tensor).__name__}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{caller}: tensor must be contiguous, got one of shape {array.shape} "
                         f"with strides {array.strides}")
    return array


def all_reduce(tensor, op=ReduceOp.SUM):
    """Reduce ``tensor`` (a Tensor or array, the same shape on every rank) over all ranks, in
    place: op SUM, AVG (floating types) or MAX. Returns ``tensor``."""
    g = _require("all_reduce")
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be ReduceOp.SUM, AVG or MAX, got {op!r}")
    array = _array(tensor, "all_reduce")
    if op == ReduceOp.AVG and array.dtype.kind != "f":
        raise TypeError(f"all_reduce: op=AVG needs a floating point tensor, got dtype "
                        f"{array.dtype}")
    g.call(f"all_reduce(shape {array.shape}, {op})", g.all_reduce, array, op)
    return tensor


def broadcast(tensor, src=0):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor`` (same shape and dtype), in
    place. Returns ``tensor``."""
    g = _require("broadcast")
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) \
            or not 0 <= src < g.world_size:
        raise ValueError(f"broadcast: src must be a rank in [0, {g.world_size}), got {src!r}")
    array = _array(tensor, "broadcast")
    g.call(f"broadcast(shape {array.shape}, src={src})", g.broadcast, array, int(src))
    return tensor


def all_gather(tensor_list, tensor):
    """Fill ``tensor_list`` (world_size Tensors or arrays shaped like ``tensor``) with every rank's
    ``tensor``, in rank order."""
    g = _require("all_gather")
    array = _array(tensor, "all_gather")
    if len(tensor_list) != g.world_size:
        raise ValueError(f"all_gather: tensor_list must hold world_size={g.world_size} tensors, "
                         f"got {len(tensor_list)}")
    gathered = g.call(f"all_gather(shape {array.shape})", g.all_gather, array)
    for target, value in zip(tensor_list, gathered):
        _array(target, "all_gather")[...] = value
    return tensor_list


def all_gather_object(object_list, obj):
    """Fill ``object_list`` (world_size entries) with every rank's picklable ``obj``."""
    g = _require("all_gather_object")
    if len(object_list) != g.world_size:
        raise ValueError(f"all_gather_object: object_list must have world_size={g.world_size} "
                         f"entries, got {len(object_list)}")
    object_list[:] = g.call("all_gather_object", g.comm.allgather, obj)
    return object_list


def broadcast_object_list(object_list, src=0):
    """Replace every rank's ``object_list`` entries with rank ``src``'s (picklable objects)."""
    g = _require("broadcast_object_list")
    object_list[:] = g.call("broadcast_object_list", g.comm.bcast, list(object_list), src)
    return object_list
