"""Tests for nnscratch.data: scaling, batching, splitting, layouts, image files."""
import io

import numpy as np
import pytest
from PIL import Image

from nnscratch import data


# ----------------------------------------------------------------------------- scale_images
def test_scale_images_maps_uint8_to_float32_unit_interval():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    s = data.scale_images(x)
    assert s.dtype == np.float32 and s.shape == x.shape
    np.testing.assert_allclose(s, [[0.0, 0.2, 1.0]], rtol=1e-7, err_msg="x / 255")
    assert data.scale_images(x, dtype="float64").dtype == np.float64


def test_scale_images_refuses_float_input():
    with pytest.raises(TypeError, match="float32"):
        data.scale_images(np.zeros(3, np.float32))


# ----------------------------------------------------------------------------- batch_iterator
def _epoch(n=50, batch_size=7, **kw):
    x = np.arange(n)
    y = 10 * x
    batches = list(data.batch_iterator(x, y, batch_size, **kw))
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, 10 * xb, err_msg="x and y batches stay aligned")
    return batches


def test_batch_iterator_covers_every_index_once_with_partial_last_batch():
    batches = _epoch(n=50, batch_size=7, seed=0)
    assert [len(xb) for xb, _ in batches] == [7] * 7 + [1]
    seen = np.concatenate([xb for xb, _ in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(50))
    assert not np.array_equal(seen, np.arange(50)), "shuffle=True must change the order"


def test_batch_iterator_same_seed_same_order_different_seed_different_order():
    order = lambda seed: np.concatenate([xb for xb, _ in _epoch(seed=seed)])
    np.testing.assert_array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))


def test_batch_iterator_generator_gives_new_reproducible_order_each_epoch():
    def two_epochs():
        gen = np.random.default_rng(7)
        return [np.concatenate([xb for xb, _ in _epoch(seed=gen)]) for _ in range(2)]

    first, second = two_epochs()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(two_epochs()[0], first)


def test_batch_iterator_without_shuffle_yields_views_in_order():
    x = np.arange(20).reshape(10, 2)
    batches = list(data.batch_iterator(x, None, 4, shuffle=False))
    assert [b.shape[0] for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(batches), x)
    assert all(np.shares_memory(b, x) for b in batches)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_batch_iterator_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        next(data.batch_iterator(np.zeros(4), np.zeros(4), bad))


def test_batch_iterator_rejects_length_mismatch():
    with pytest.raises(ValueError, match="4 and 3"):
        next(data.batch_iterator(np.zeros(4), np.zeros(3), 2))


# ----------------------------------------------------------------------------- train_val_split
@pytest.mark.parametrize("n,split", [(10, 0.2), (10, 0.25), (7, 0.5), (1000, 0.1)])
def test_train_val_split_takes_last_fraction_like_keras(n, split):
    x, y = np.arange(n), -np.arange(n)
    (xt, yt), (xv, yv) = data.train_val_split(x, y, split)
    n_train = int(np.floor(n * (1 - split)))  # Keras: floor(n * (1 - validation_split))
    assert len(xt) == len(yt) == n_train and len(xv) == len(yv) == n - n_train
    np.testing.assert_array_equal(np.concatenate([xt, xv]), x, err_msg="order kept, val is the tail")
    np.testing.assert_array_equal(yv, -xv)


def test_train_val_split_shuffled_is_seeded_partition():
    x = np.arange(100)
    (a, _), (av, _) = data.train_val_split(x, x, 0.3, shuffle=True, seed=1)
    (b, _), (bv, _) = data.train_val_split(x, x, 0.3, shuffle=True, seed=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.sort(np.concatenate([a, av])), x)
    assert not np.array_equal(a, np.arange(70))


@pytest.mark.parametrize("split", [0.0, 1.0, -0.1, 0.95, 1e-17])
def test_train_val_split_rejects_bad_or_empty_split(split):
    with pytest.raises(ValueError, match="validation_split"):
        data.train_val_split(np.arange(10), np.arange(10), split)


# ----------------------------------------------------------------------------- layouts
def test_nhwc_nchw_round_trip_and_element_mapping():
    x = np.random.default_rng(0).random((2, 3, 4, 5))
    c = data.nhwc_to_nchw(x)
    assert c.shape == (2, 5, 3, 4)
    assert c[1, 4, 2, 3] == x[1, 2, 3, 4]
    np.testing.assert_array_equal(data.nchw_to_nhwc(c), x)
    with pytest.raises(ValueError, match="rank-4"):
        data.nhwc_to_nchw(x[0])


# ----------------------------------------------------------------------------- images
@pytest.fixture
def rgb_png(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(arr, "RGB").save(path)
    return path, arr


def test_load_img_rgb_to_array_is_hwc_float32_with_pixel_values(rgb_png):
    path, arr = rgb_png
    img = data.load_img(path)
    assert img.size == (7, 5) and img.mode == "RGB"
    x = data.img_to_array(img)
    assert x.shape == (5, 7, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x, arr.astype(np.float32))
    assert data.img_to_array(img, data_format="channels_first").shape == (3, 5, 7)
    assert data.img_to_array(img, dtype="uint8").dtype == np.uint8


def test_load_img_grayscale_gives_one_channel(tmp_path, rgb_png):
    gray = np.arange(35, dtype=np.uint8).reshape(5, 7)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    x = data.img_to_array(data.load_img(tmp_path / "g.png", color_mode="grayscale"))
    assert x.shape == (5, 7, 1)
    np.testing.assert_array_equal(x[:, :, 0], gray)
    gray_img = data.load_img(tmp_path / "g.png", color_mode="grayscale")
    np.testing.assert_array_equal(data.img_to_array(gray_img, data_format="channels_first")[0], gray)
    assert data.img_to_array(data.load_img(tmp_path / "g.png"), data_format="channels_first").shape == (3, 5, 7)
    # an RGB file read as grayscale is converted with ITU-R 601-2 luma, L = (299R+587G+114B)/1000
    path, arr = rgb_png
    xg = data.img_to_array(data.load_img(path, color_mode="grayscale"))[:, :, 0]
    luma = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(xg, luma, atol=1.0, err_msg="grayscale conversion")


def test_load_img_target_size_is_height_width_and_rgba(rgb_png):
    path, arr = rgb_png
    x = data.img_to_array(data.load_img(path, target_size=(10, 14)))
    assert x.shape == (10, 14, 3)
    # nearest upsampling by exactly 2 repeats every pixel into a 2x2 block
    np.testing.assert_array_equal(x, arr.repeat(2, axis=0).repeat(2, axis=1))
    assert data.img_to_array(data.load_img(path, target_size=(3, 4), interpolation="bilinear")).shape == (3, 4, 3)
    assert data.img_to_array(data.load_img(path, color_mode="rgba")).shape == (5, 7, 4)
    with open(path, "rb") as f:
        from_bytes = data.load_img(io.BytesIO(f.read()))
    np.testing.assert_array_equal(data.img_to_array(from_bytes), arr)


def test_load_img_keep_aspect_ratio_crops_centre(tmp_path):
    arr = np.zeros((4, 8), np.uint8)
    arr[:, 2:6] = 255  # the centre 4x4 square is white, the sides black
    Image.fromarray(arr, "L").save(tmp_path / "wide.png")
    x = data.img_to_array(data.load_img(tmp_path / "wide.png", "grayscale", (2, 2), keep_aspect_ratio=True))
    np.testing.assert_array_equal(x[:, :, 0], np.full((2, 2), 255.0))


def test_load_img_rejects_bad_arguments(rgb_png):
    path, _ = rgb_png
    with pytest.raises(ValueError, match="color_mode"):
        data.load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match="interpolation"):
        data.load_img(path, target_size=(2, 2), interpolation="cubic-ish")
    with pytest.raises(TypeError, match="path"):
        data.load_img(12)
    with pytest.raises(ValueError, match="data_format"):
        data.img_to_array(Image.open(path), data_format="nhwc")
