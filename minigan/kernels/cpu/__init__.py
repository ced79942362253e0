"""CPU kernels: Numba loops plus BLAS matrix products, with the names and signatures of reference.py.

| file | job |
|---|---|
| threads.py | the thread policy: Numba's layer (TBB), numpy's BLAS at one thread inside our GEMMs, the GEMM pool |
| gemm.py | GEMMs split over the pool |
| conv.py | conv2d / conv_transpose2d: im2col -> GEMM -> col2im over pieces of the batch |
| columns_nchw.py, columns_nhwc.py | im2col / col2im and layout transposes, channels-first and channels-last |
| direct.py | direct loops for convolutions with 1-4 output channels |
| rows.py | inline row helpers (copy, add, axpy, dot, four-tap passes) the loops share |
| norm.py, activation.py, loss.py, pad.py | batch norm, LeakyReLU, BCE, reflection padding |
| pool.py | average and max pooling forward |
| optim.py | one Adam step on one parameter, fused |

Debugging: NUMBA_DISABLE_JIT=1 runs every kernel as plain Python; NUMBA_NUM_THREADS=1 runs the parallel
loops on one thread.
"""
from .threads import threading_info  # noqa: F401  (first: it picks Numba's threading layer)
from .activation import leaky_relu_backward, leaky_relu_forward  # noqa: F401
from .conv import (col2im, conv2d_backward, conv2d_forward, conv_transpose2d_backward,  # noqa: F401
                   conv_transpose2d_forward, im2col, release_workspaces, workspace)
from .loss import (binary_cross_entropy_backward, binary_cross_entropy_forward,  # noqa: F401
                   binary_cross_entropy_with_logits_backward, binary_cross_entropy_with_logits_forward)
from .optim import adam_step  # noqa: F401
from .norm import batch_norm_apply, batch_norm_backward, batch_norm_stats  # noqa: F401
from .pad import reflection_pad2d_backward, reflection_pad2d_forward  # noqa: F401
from .pool import avg_pool2d_forward, max_pool2d_forward  # noqa: F401
