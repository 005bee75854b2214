"""The fast kernel tier: the readable kernels' results, computed with speed tricks.

Same functions and signatures as the readable kernels (``layers/conv.py``,
``layers/pooling.py``), NHWC, on any ``xp`` backend. Each trick says what it does and the
measurement that earned it; ``tests/kernels/`` checks every function against the readable and
the reference tier. Nothing returned or cached here is ever memory that a later call refills:
reused memory (``scratch``) only holds values that die inside one call.
"""
from __future__ import annotations

from nnscratch.kernels.fast_adam import adam_update
from nnscratch.kernels.fast_conv import conv2d_backward, conv2d_forward
from nnscratch.kernels.fast_pool import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward

#: name -> kernel, looked up by nnscratch.kernels.get
KERNELS = {f.__name__: f for f in (conv2d_forward, conv2d_backward, max_pool_forward, max_pool_backward,
                                   avg_pool_forward, avg_pool_backward, adam_update)}
