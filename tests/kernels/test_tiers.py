"""The kernel tiers against each other, kernel by kernel: fast vs readable vs reference, forward
and backward, over shapes, channel counts (each of the fast tier's loop orders), strides,
paddings, dilations, pool sizes, in float32 and float64; and the dispatcher's switch."""
import itertools

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import kernels
from nnscratch.kernels import fast, reference, scratch
from nnscratch.layers import conv, pooling

TOL = {"float64": dict(rtol=1e-10, atol=1e-11), "float32": dict(rtol=2e-5, atol=2e-5)}


def distinct(shape, seed, dtype):
    """Distinct, well-separated values (no max-pooling ties), in a random order, scale ~1."""
    g = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (g.permutation(size).reshape(shape) / size * 4 - 2).astype(dtype)


def close(a, b, dtype, what):
    scale = max(1.0, float(np.abs(np.asarray(b, dtype=np.float64)).max(initial=0.0)))
    tol = TOL[dtype]
    np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=what)


# C=1: the fast tier's transposed layout; C=3, 8: window rows; C=40: the tap loop
CONV_CASES = [
    (N, H, W, C, F, k, s, p, d)
    for (N, H, W, C, F), k, s, p, d in itertools.product(
        [(2, 7, 6, 1, 3), (3, 8, 9, 3, 4), (2, 6, 7, 8, 5), (2, 5, 6, 40, 3)],
        [(1, 1), (3, 3), (2, 3)], [(1, 1), (2, 2), (3, 1)], ["valid", "same"], [(1, 1), (2, 2), (1, 2)])
    if not (max(s) > 1 and max(d) > 1)
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("N,H,W,C,F,kernel_size,strides,padding,dilation", CONV_CASES)
def test_conv2d_fast_readable_and_reference_tiers_agree(dtype, N, H, W, C, F, kernel_size, strides, padding, dilation):
    x = distinct((N, H, W, C), 0, dtype)
    g = np.random.default_rng(1)
    kernel = g.standard_normal(kernel_size + (C, F)).astype(dtype)
    bias = g.standard_normal(F).astype(dtype)
    outputs = {}
    for name, tier in [("readable", conv), ("fast", fast), ("reference", reference.KERNELS)]:
        forward = tier["conv2d_forward"] if isinstance(tier, dict) else tier.conv2d_forward
        backward = tier["conv2d_backward"] if isinstance(tier, dict) else tier.conv2d_backward
        z, cache = forward(x, kernel, bias, strides, padding, dilation)
        dz = np.random.default_rng(2).standard_normal(z.shape).astype(dtype)
        dx, dk, db = backward(dz, cache, kernel, True)
        none_dx, dk2, db2 = backward(dz, cache, kernel, False)
        assert none_dx is None, f"{name}: need_input_grad=False must return dx=None"
        np.testing.assert_array_equal(dk2, dk, err_msg=f"{name}: dkernel without dx")
        np.testing.assert_array_equal(db2, db, err_msg=f"{name}: dbias without dx")
        assert z.dtype == dtype and dx.dtype == dtype and dk.dtype == dtype, name
        outputs[name] = (z, dx, dk, db)
    for name in ("fast", "reference"):
        for q, a, b in zip(("z", "dx", "dkernel", "dbias"), outputs[name], outputs["readable"]):
            close(a, b, dtype, f"conv2d {q}: {name} vs readable")


def test_conv2d_kernels_without_bias_agree():
    x, kernel = distinct((2, 6, 6, 3), 3, "float64"), distinct((3, 3, 3, 4), 4, "float64")
    z_r, _ = conv.conv2d_forward(x, kernel, None, (1, 1), "same", (1, 1))
    z_f, _ = fast.conv2d_forward(x, kernel, None, (1, 1), "same", (1, 1))
    close(z_f, z_r, "float64", "conv2d without bias")


POOL_CASES = list(itertools.product([(2, 7, 6, 3), (3, 8, 8, 1), (2, 9, 5, 40)],
                                    [(2, 2), (3, 3), (2, 3), (1, 1)], [None, (1, 1), (2, 2), (3, 2)],
                                    ["valid", "same"]))


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,pool_size,strides,padding", POOL_CASES)
def test_pooling_fast_readable_and_reference_tiers_agree(op, dtype, shape, pool_size, strides, padding):
    strides = strides or pool_size
    if shape[1] < pool_size[0] or shape[2] < pool_size[1]:
        pytest.skip("pool larger than the input")
    x = distinct(shape, 5, dtype)
    name = f"{op}_pool"
    outputs = {}
    for tier, table in [("readable", {f"{name}_forward": getattr(pooling, f"{name}_forward"),
                                      f"{name}_backward": getattr(pooling, f"{name}_backward")}),
                        ("fast", fast.KERNELS), ("reference", reference.KERNELS)]:
        y, cache = table[f"{name}_forward"](x, pool_size, strides, padding)
        dy = np.random.default_rng(6).standard_normal(y.shape).astype(dtype)
        dx = table[f"{name}_backward"](dy, cache)
        assert y.dtype == dtype and dx.dtype == dtype and dx.shape == x.shape, tier
        outputs[tier] = (y, dx)
    for tier in ("fast", "reference"):
        for q, a, b in zip(("y", "dx"), outputs[tier], outputs["readable"]):
            close(a, b, dtype, f"{name} {q}: {tier} vs readable")


def test_maxpool_tiers_route_ties_to_the_first_maximum():
    x = np.zeros((1, 4, 4, 2))  # every window is one big tie
    for table in (fast.KERNELS, reference.KERNELS, {"max_pool_forward": pooling.max_pool_forward,
                                                   "max_pool_backward": pooling.max_pool_backward}):
        y, cache = table["max_pool_forward"](x, (2, 2), (2, 2), "valid")
        dx = table["max_pool_backward"](np.ones_like(y), cache)
        np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


# ---------------------------------------------------------------------- the dispatcher
def test_get_returns_the_readable_kernel_itself_or_the_tiers_own():
    with kernels.use_tier("readable"):
        assert kernels.get(conv.conv2d_forward) is conv.conv2d_forward
    with kernels.use_tier("fast"):
        assert kernels.get(conv.conv2d_forward) is fast.conv2d_forward
    assert kernels.get(pooling.avg_pool_backward, "reference") is reference.avg_pool_backward


def test_use_tier_restores_and_set_tier_refuses_unknown_names():
    before = kernels.get_tier()
    with kernels.use_tier("reference"):
        assert kernels.get_tier() == "reference"
    assert kernels.get_tier() == before
    with pytest.raises(ValueError, match="'fast', 'readable', 'reference'.*'quick'"):
        kernels.set_tier("quick")
    with pytest.raises(ValueError, match="use_tier"):
        with kernels.use_tier("slow"):
            pass
    assert kernels.get_tier() == before


def test_a_layers_kernel_tier_overrides_the_global_switch(monkeypatch):
    seen = []
    monkeypatch.setitem(fast.KERNELS, "max_pool_forward", lambda *a: seen.append("fast") or pooling.max_pool_forward(*a))
    layer = nn.layers.MaxPooling2D()
    x = distinct((1, 4, 4, 1), 7, "float32")
    with kernels.use_tier("fast"):
        layer(x)
        layer.kernel_tier = "readable"
        layer(x)
    assert seen == ["fast"]


def test_no_buffer_reuse_gives_fresh_scratch_and_reuse_resumes_after():
    a = scratch.scratch(np, (4, 5), "float32", slot="t")
    b = scratch.scratch(np, (4, 5), "float32", slot="t")
    assert np.shares_memory(a, b), "outside no_buffer_reuse the slot's memory is reused"
    with kernels.no_buffer_reuse():
        assert not kernels.buffer_reuse()
        c = scratch.scratch(np, (4, 5), "float32", slot="t")
        assert not np.shares_memory(a, c)
    assert kernels.buffer_reuse()


@pytest.mark.parametrize("n_threads", [1, 3])
def test_fast_tier_chunks_and_threads_give_the_readable_results(monkeypatch, n_threads):
    """One image per chunk, pooling split at any size, over 1 and 3 threads (every path of the
    fast tier's batch split), against the readable kernels in float64."""
    from nnscratch.kernels import fast_conv, fast_pool, threads

    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
    monkeypatch.setattr(fast_pool, "MIN_PARALLEL", 1)
    monkeypatch.setattr(fast_pool, "CHUNK_BYTES", 1)  # one image per pooling chunk
    old = threads.num_threads()
    threads.set_num_threads(n_threads)
    try:
        for C, padding in [(1, "same"), (5, "valid"), (12, "same")]:
            x = distinct((5, 7, 6, C), 8, "float64")
            kernel = distinct((3, 2, C, 4), 9, "float64")
            bias = distinct((4,), 10, "float64")
            z_r, c_r = conv.conv2d_forward(x, kernel, bias, (1, 1), padding, (1, 1))
            z_f, c_f = fast.conv2d_forward(x, kernel, bias, (1, 1), padding, (1, 1))
            close(z_f, z_r, "float64", f"conv z C={C}")
            dz = distinct(z_r.shape, 11, "float64")
            for a, b, q in zip(fast.conv2d_backward(dz, c_f, kernel), conv.conv2d_backward(dz, c_r, kernel),
                               ("dx", "dkernel", "dbias")):
                close(a, b, "float64", f"conv {q} C={C}")
        for op in ("max", "avg"):
            for pool, strides, padding in [((2, 2), (2, 2), "same"), ((3, 3), (1, 1), "valid")]:
                x = distinct((5, 7, 6, 3), 12, "float64")
                y_r, c_r = getattr(pooling, f"{op}_pool_forward")(x, pool, strides, padding)
                y_f, c_f = fast.KERNELS[f"{op}_pool_forward"](x, pool, strides, padding)
                close(y_f, y_r, "float64", f"{op} pool y")
                dy = distinct(y_r.shape, 13, "float64")
                close(fast.KERNELS[f"{op}_pool_backward"](dy, c_f), getattr(pooling, f"{op}_pool_backward")(dy, c_r),
                      "float64", f"{op} pool dx")
    finally:
        threads.set_num_threads(old)


def test_set_num_threads_refuses_non_positive_integers():
    from nnscratch.kernels import threads

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            threads.set_num_threads(bad)


def test_kernels_import_nothing_above_them():
    """Imports run one way: layers -> kernels -> backend; no kernel module imports layers,
    models or debug (at module level or inside a function)."""
    import ast
    import pathlib

    root = pathlib.Path(kernels.__file__).parent
    offenders = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[:2] in (["nnscratch", "layers"], ["nnscratch", "models"], ["nnscratch", "debug"])]
    assert len(list(root.glob("*.py"))) >= 8 and offenders == [], offenders


def test_thread_pool_works_in_a_forked_child():
    import multiprocessing

    from nnscratch.kernels import threads

    threads.run_ranges(lambda a, b: b - a, threads.split(8, 2))  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_sum_in_child, ()).get(timeout=60) == 8  # a dead pool would hang


def _sum_in_child():
    from nnscratch.kernels import threads

    threads.set_num_threads(2) if threads.num_threads() < 2 else None
    return sum(threads.run_ranges(lambda a, b: b - a, threads.split(8, 2)))


# The activation f is applied inside the conv kernel (y = f(z)), and its derivative first in
# backward (dz = f'(z) * dy): the fast tier fuses both into its chunks (ReLU in place).
ACTIVATION_CASES = list(itertools.product([None, "relu", "tanh", "elu"], [1, 3, 40], ["whole", "chunks"]))


@pytest.mark.parametrize("activation,C,path", ACTIVATION_CASES)
def test_conv2d_tiers_agree_with_the_activation_inside_the_kernel(monkeypatch, activation, C, path):
    from nnscratch.kernels import fast_conv, threads

    f = None if activation is None else nn.activations.get(activation)
    if path == "chunks":  # one image per chunk, 3 threads, the im2col matrix rebuilt in backward
        monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 1)
        monkeypatch.setattr(fast_conv, "KEEP_COL_BYTES", 0)
    old = threads.num_threads()
    threads.set_num_threads(3 if path == "chunks" else 1)
    try:
        x = distinct((5, 7, 6, C), 20, "float64")
        kernel = distinct((3, 2, C, 4), 21, "float64") / C
        bias = distinct((4,), 22, "float64")
        results = {}
        for name, forward, backward in [("readable", conv.conv2d_forward, conv.conv2d_backward),
                                        ("fast", fast.conv2d_forward, fast.conv2d_backward),
                                        ("reference", reference.KERNELS["conv2d_forward"],
                                         reference.KERNELS["conv2d_backward"])]:
            y, cache = forward(x, kernel, bias, (1, 1), "same", (1, 1), f)
            dy = distinct(y.shape, 23, "float64")
            results[name] = (y,) + tuple(backward(dy, cache, kernel, True))
        z, _ = conv.conv2d_forward(x, kernel, bias, (1, 1), "same", (1, 1))
        expected_y = z if f is None else f(z)
        close(results["readable"][0], expected_y, "float64", "readable y = f(z)")
        for name in ("fast", "reference"):
            for q, a, b in zip(("y", "dx", "dkernel", "dbias"), results[name], results["readable"]):
                close(a, b, "float64", f"conv2d {q} with activation {activation}: {name} vs readable")
    finally:
        threads.set_num_threads(old)


def test_conv2d_readable_backward_applies_the_activation_derivative():
    """dz = relu'(z) * dy: the readable backward with f=relu equals the backward without f fed
    dy masked by (y > 0)."""
    x, kernel = distinct((2, 6, 6, 3), 30, "float64"), distinct((3, 3, 3, 4), 31, "float64")
    relu = nn.activations.get("relu")
    y, cache = conv.conv2d_forward(x, kernel, None, (1, 1), "valid", (1, 1), relu)
    assert (y >= 0).all() and (y == 0).any()
    z, cache_z = conv.conv2d_forward(x, kernel, None, (1, 1), "valid", (1, 1))
    dy = distinct(y.shape, 32, "float64")
    for a, b in zip(conv.conv2d_backward(dy, cache, kernel), conv.conv2d_backward(dy * (z > 0), cache_z, kernel)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
