"""The checkout's benchmark entry points (the suite itself is nnscratch/bench/, shipped in the
package as ``nnscratch bench``):

    python -m benchmarks run [--quick] [--reps N] [--engines nnscratch,torch,keras] [--workloads W]
                             [--threads T] [--out DIR] [--update-readme]
    python -m benchmarks micro [--models mlp,lenet,convnet,mnist_convnet] [--out DIR]
    python -m benchmarks gpu [--emulated] [--budget S] [--out DIR]

See benchmarks/README.md for what is measured and the latest tables.
"""
