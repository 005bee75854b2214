"""im2col / col2im and the output-size and 'same'-padding helpers, checked against their
definitions (TensorFlow's formulas, written out independently here)."""
import math

import numpy as np
import pytest

from nnscratch.layers import im2col as im


def keras_output_length(n, k, s, padding, d=1):
    """Keras: 'valid' -> floor((n - ((k-1)*d + 1)) / s) + 1, 'same' -> ceil(n / s)."""
    if padding == "same":
        return math.ceil(n / s)
    return math.floor((n - ((k - 1) * d + 1)) / s) + 1


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("n,k,s,d", [(5, 2, 2, 1), (6, 3, 2, 1), (7, 4, 2, 1), (8, 3, 3, 1), (28, 3, 1, 1),
                                     (9, 3, 1, 2), (10, 2, 1, 3), (4, 4, 1, 1), (11, 5, 3, 1)])
def test_conv_output_length_follows_keras_formula(n, k, s, d, padding):
    assert im.conv_output_length(n, k, s, padding, d) == keras_output_length(n, k, s, padding, d)


@pytest.mark.parametrize("n,k,s,d", [(6, 2, 1, 1), (6, 3, 2, 1), (7, 4, 2, 1), (8, 3, 3, 1), (5, 2, 2, 1),
                                     (7, 3, 1, 2), (5, 5, 1, 1), (4, 1, 2, 1)])
def test_same_padding_puts_odd_cell_bottom_right(n, k, s, d):
    out = math.ceil(n / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    before, after = im.same_padding(n, k, s, d)
    assert before + after == total, "total 'same' padding"
    assert after - before == total % 2, "an odd extra cell must go after (bottom/right), TF's rule"
    # with this padding, the last window ends exactly at the padded edge or inside it
    assert (out - 1) * s + (k - 1) * d + 1 <= n + before + after


def test_valid_padding_is_zero():
    assert im.padding_amounts(7, 6, 3, 2, 2, 1, "valid") == ((0, 0), (0, 0))


@pytest.mark.parametrize("KH,KW,SH,SW,DH,DW", [(3, 3, 1, 1, 1, 1), (2, 3, 2, 1, 1, 1), (3, 2, 2, 3, 1, 1),
                                               (3, 3, 1, 1, 2, 1), (2, 2, 1, 1, 2, 3)])
def test_im2col_matches_its_definition(backend, KH, KW, SH, SW, DH, DW):
    rng = np.random.default_rng(0)
    N, Hp, Wp, C = 2, 9, 8, 3
    x_pad = rng.standard_normal((N, Hp, Wp, C))
    H_out = (Hp - ((KH - 1) * DH + 1)) // SH + 1
    W_out = (Wp - ((KW - 1) * DW + 1)) // SW + 1
    col = backend.to_host(im.im2col(backend.to_device(x_pad), KH, KW, SH, SW, H_out, W_out, DH, DW))
    assert col.shape == (N, H_out, W_out, KH, KW, C)
    expected = np.empty_like(col)
    for h in range(H_out):
        for w in range(W_out):
            for i in range(KH):
                for j in range(KW):
                    expected[:, h, w, i, j, :] = x_pad[:, h * SH + i * DH, w * SW + j * DW, :]
    np.testing.assert_array_equal(col, expected, err_msg="col[n,h,w,i,j,c] = x_pad[n, h*SH+i*DH, w*SW+j*DW, c]")


@pytest.mark.parametrize("KH,KW,SH,SW,DH,DW", [(3, 3, 1, 1, 1, 1), (2, 3, 2, 1, 1, 1), (3, 3, 1, 1, 2, 2),
                                               (4, 2, 3, 2, 1, 1)])
def test_col2im_is_the_adjoint_of_im2col(backend, KH, KW, SH, SW, DH, DW):
    # <im2col(x), dcol> == <x, col2im(dcol)> for all x, dcol: the defining property of the
    # backward of a linear map. float64 sums of ~500 products: agreement to 1e-12 relative.
    rng = np.random.default_rng(1)
    N, Hp, Wp, C = 2, 10, 9, 2
    H_out = (Hp - ((KH - 1) * DH + 1)) // SH + 1
    W_out = (Wp - ((KW - 1) * DW + 1)) // SW + 1
    x = rng.standard_normal((N, Hp, Wp, C))
    dcol = rng.standard_normal((N, H_out, W_out, KH, KW, C))
    dev, host = backend.to_device, backend.to_host
    lhs = np.sum(host(im.im2col(dev(x), KH, KW, SH, SW, H_out, W_out, DH, DW)) * dcol)
    rhs = np.sum(x * host(im.col2im(dev(dcol), x.shape, SH, SW, DH, DW)))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs)), f"adjoint test: {lhs} vs {rhs}"


def test_col2im_accumulates_overlapping_windows(backend):
    # a 3x3 kernel at stride 1 over a 5x5 image: the centre pixel is read by 9 windows
    dcol = backend.to_device(np.ones((1, 3, 3, 3, 3, 1)))
    dx = backend.to_host(im.col2im(dcol, (1, 5, 5, 1), 1, 1))
    counts = np.zeros((5, 5))
    for h in range(3):
        for w in range(3):
            counts[h:h + 3, w:w + 3] += 1
    np.testing.assert_array_equal(dx[0, :, :, 0], counts)


def test_pad_then_crop_round_trips_and_pads_with_value(backend):
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float64).reshape(2, 3, 4, 2)
    pads = ((1, 2), (0, 1))
    xp_dev = im.pad_nhwc(backend.to_device(x), pads, value=-5.0)
    xp_ = backend.to_host(xp_dev)
    assert xp_.shape == (2, 6, 5, 2)
    assert (xp_[:, 0] == -5.0).all() and (xp_[:, -2:] == -5.0).all() and (xp_[:, :, -1] == -5.0).all()
    np.testing.assert_array_equal(backend.to_host(im.crop_nhwc(xp_dev, pads, 3, 4)), x)
