"""The side-by-side CPU benchmark suite: nnscratch vs PyTorch vs Keras (TensorFlow), the same
data, batch sizes, float32 and thread count, every measurement in a fresh process.

``nnscratch bench`` (``command.py``) runs it from an installed package; ``python -m benchmarks
run`` in a source checkout is the same suite (and writes the checkout's results and README
tables). Modules: ``workloads`` (the models and runs), ``engines/`` (one per framework),
``child`` (one measurement), ``runner`` (the loop), ``gemm`` (the BLAS ceiling), ``report``
(tables and plot), ``data``, ``env``. See benchmarks/README.md in the repository.
"""
