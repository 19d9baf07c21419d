"""Pooling (MaxPool2D, AvgPool2D, GlobalAvgPool2D), the shape layers (Flatten, Reshape) and
BatchNorm on NCHW images: loops of the definitions as references, float64 gradchecks on
every backend, cross-backend agreement, max-pool's tie routing, and the errors."""

import numpy as np
import pytest

import xpnn
from xpnn.testing import assert_close, check_backends, gradcheck

from .helpers import host_normal, on_backend

# (kernel_size, stride, padding): non-overlapping, overlapping, padded, non-square, a window
# that does not tile the image (the last row/column left out, floor mode)
POOLS = {
    "2x2": (2, None, 0),
    "3x3 stride 1 (overlapping)": (3, 1, 0),
    "3x3 stride 2 pad 1 (overlapping)": (3, 2, 1),
    "2x3 stride (1,2) pad (1,0)": ((2, 3), (1, 2), (1, 0)),
    "3x2 (floor: leftovers)": ((3, 2), None, 0),
}
X_SHAPE = (2, 3, 7, 6)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def reference_pool(x, kernel, stride, padding, reduce, pad_value):
    (kh, kw), (ph, pw) = pair(kernel), pair(padding)
    sh, sw = pair(kernel if stride is None else stride)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    oh, ow = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for n, c, y, xx in np.ndindex(out.shape):
        out[n, c, y, xx] = reduce(xpad[n, c, y * sh:y * sh + kh, xx * sw:xx * sw + kw])
    return out


def make(cls, config):
    kernel, stride, padding = POOLS[config]
    return cls(kernel, stride=stride, padding=padding)


@pytest.mark.parametrize("config", sorted(POOLS))
def test_max_and_average_match_the_loops_of_the_definition(xp, config):
    x = host_normal(*X_SHAPE)
    kernel, stride, padding = POOLS[config]
    assert_close(make(xpnn.MaxPool2D, config)(on_backend(x)),
                 reference_pool(x, kernel, stride, padding, np.max, -np.inf))
    # count_include_pad=True: the zeros of the padding count in the mean
    assert_close(make(xpnn.AvgPool2D, config)(on_backend(x)),
                 reference_pool(x, kernel, stride, padding, np.mean, 0.0))


@pytest.mark.parametrize("cls", [xpnn.MaxPool2D, xpnn.AvgPool2D])
@pytest.mark.parametrize("config", sorted(POOLS))
def test_gradcheck(xp, cls, config):
    # normal values: no two within the finite-difference step of each other, so no tie
    assert gradcheck(make(cls, config), on_backend(host_normal(*X_SHAPE)))


@pytest.mark.parametrize("cls", [xpnn.MaxPool2D, xpnn.AvgPool2D])
@pytest.mark.parametrize("config", sorted(POOLS))
def test_agrees_across_backends(other_backend, cls, config):
    check_backends(lambda: make(cls, config), host_normal(*X_SHAPE, seed=2), backends=[other_backend])


def test_max_pool_routes_a_tie_to_the_first_maximum_in_row_major_order(xp):
    """Ties are not split: the window's whole gradient goes to its first maximal element,
    top row first, then left to right (PyTorch's CPU kernel does the same)."""
    x = np.array([[[[1.0, 5.0, 5.0, 0.0],
                    [5.0, 5.0, 2.0, 3.0],
                    [7.0, 7.0, 7.0, 7.0],
                    [7.0, 7.0, 7.0, 7.0]]]])
    out, backward = xpnn.MaxPool2D(2).forward(on_backend(x))
    assert xpnn.to_numpy(out).tolist() == [[[[5.0, 5.0], [7.0, 7.0]]]]
    dx = xpnn.to_numpy(backward(on_backend(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))))
    assert dx.tolist() == [[[[0.0, 10.0, 20.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0],
                             [30.0, 0.0, 40.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0]]]]


def test_overlapping_windows_add_up_at_a_shared_maximum(xp):
    """One pixel that is the maximum of every window it is in gets the sum of their gradients;
    a tie inside an overlapping window still goes to its first maximum."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0
    out, backward = xpnn.MaxPool2D(2, stride=1).forward(on_backend(x))
    dx = xpnn.to_numpy(backward(on_backend(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    assert dx.tolist() == expected.tolist()
    x = np.array([[[[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]]])  # every window all ties
    out, backward = xpnn.MaxPool2D(2, stride=1).forward(on_backend(x))
    dx = xpnn.to_numpy(backward(on_backend(np.array([[[[1.0, 2.0]]]]))))
    assert dx.tolist() == [[[[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]]]


def test_max_padding_never_wins_and_average_padding_counts(xp):
    x = on_backend(-np.ones((1, 1, 2, 2)))
    assert xpnn.to_numpy(xpnn.MaxPool2D(2, stride=1, padding=1)(x)).max() == -1.0
    corner = xpnn.to_numpy(xpnn.AvgPool2D(2, stride=1, padding=1)(x))[0, 0, 0, 0]
    assert corner == -0.25  # one pixel of -1 and three zeros of padding, divided by 4


def test_stride_defaults_to_the_kernel_and_configs_round_trip():
    pool = xpnn.MaxPool2D((2, 3))
    assert pool.stride == (2, 3) and repr(pool) == "MaxPool2D(kernel_size=(2, 3))"
    avg = xpnn.AvgPool2D(3, stride=2, padding=1)
    assert avg.get_config() == {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]}
    assert repr(avg) == "AvgPool2D(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))"
    for layer in (pool, avg, xpnn.GlobalAvgPool2D(), xpnn.Flatten(), xpnn.Reshape((1, 8, 8))):
        rebuilt = xpnn.nn.layer.layer_from_config(xpnn.nn.layer.layer_config(layer))
        assert type(rebuilt) is type(layer) and rebuilt.get_config() == layer.get_config()


@pytest.mark.parametrize("cls", [xpnn.MaxPool2D, xpnn.AvgPool2D])
def test_pool_errors(xp, cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: x has shape \(4, 16\), expected \(batch, channels, height, width\)"):
        cls(2).forward(on_backend(np.zeros((4, 16))))
    with pytest.raises(ValueError, match=rf"{name}: x has shape \(1, 1, 2, 2\): its images, 2x2 after padding, "
                                         r"are smaller than the 3x3 window"):
        cls(3).forward(on_backend(np.zeros((1, 1, 2, 2))))
    with pytest.raises(TypeError, match=f"{name}: x must be a floating-point array"):
        cls(2).forward(xp.zeros((1, 1, 2, 2), dtype=xp.int64))
    with pytest.raises(ValueError, match=rf"{name}: padding must be at most half of kernel_size, "
                                         r"got padding \(2, 2\) for kernel_size \(3, 3\)"):
        cls(3, padding=2)
    with pytest.raises(ValueError, match=f"{name}: kernel_size must be a positive int or a pair of them, got 0"):
        cls(0)
    with pytest.raises(ValueError, match=f"{name}: stride must be a positive int or a pair of them, got -1"):
        cls(2, stride=-1)
    _, backward = cls(2).forward(on_backend(np.zeros((1, 1, 4, 4))))
    with pytest.raises(ValueError, match=rf"{name}.backward: dout has shape \(1, 1, 4, 4\), expected the output shape \(1, 1, 2, 2\)"):
        backward(on_backend(np.zeros((1, 1, 4, 4))))


# ----------------------------------------------------------- global pooling and shapes

def test_global_average_pool(xp):
    x = host_normal(*X_SHAPE)
    layer = xpnn.GlobalAvgPool2D()
    assert_close(layer(on_backend(x)), x.mean(axis=(2, 3)))
    assert gradcheck(layer, on_backend(x))
    with pytest.raises(ValueError, match=r"GlobalAvgPool2D: x has shape \(2, 3\), expected \(batch, channels, height, width\)"):
        layer.forward(on_backend(np.zeros((2, 3))))


def test_flatten_and_reshape_keep_the_batch_axis(xp):
    x = host_normal(2, 3, 4, 5)
    flat = xpnn.Flatten()(on_backend(x))
    assert_close(flat, x.reshape(2, 60))
    assert gradcheck(xpnn.Flatten(), on_backend(x))
    images = xpnn.Reshape((1, 8, 8))(on_backend(host_normal(3, 64)))
    assert tuple(images.shape) == (3, 1, 8, 8)
    assert tuple(xpnn.Reshape((-1, 4))(on_backend(x)).shape) == (2, 15, 4)
    assert gradcheck(xpnn.Reshape((5, 12)), on_backend(x))


def test_shape_layer_errors(xp):
    with pytest.raises(ValueError, match=r"Flatten: x has shape \(5,\), expected \(batch, ...\)"):
        xpnn.Flatten().forward(on_backend(np.zeros(5)))
    with pytest.raises(ValueError, match=r"Reshape: x has shape \(2, 63\), 63 values per sample, which cannot be "
                                         r"reshaped to \(batch, 1, 8, 8\)"):
        xpnn.Reshape((1, 8, 8)).forward(on_backend(np.zeros((2, 63))))
    for bad in [(), (0, 4), (-1, -1), 5, (2.0,)]:
        with pytest.raises(ValueError, match="Reshape: shape must be a non-empty tuple of ints >= 1"):
            xpnn.Reshape(bad)


def test_shape_layers_agree_across_backends(other_backend):
    make = lambda: xpnn.Sequential(  # noqa: E731
        xpnn.Reshape((2, 3, 4)), xpnn.GlobalAvgPool2D(), xpnn.Dense(2, 3), xpnn.Reshape((3, 1, 1)), xpnn.Flatten())
    check_backends(make, host_normal(4, 24, seed=5), backends=[other_backend])


# ----------------------------------------------------------- BatchNorm on images

def test_batchnorm_on_images_standardises_each_channel_over_batch_height_and_width(xp):
    x = host_normal(4, 3, 5, 2, scale=3.0) + 1.0
    for cls in (xpnn.BatchNorm, xpnn.BatchNorm2D):
        layer = cls(3, momentum=0.5).astype("float64")
        out = xpnn.to_numpy(layer.forward(on_backend(x))[0])
        mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
        assert_close(out, (x - mean) / np.sqrt(var + 1e-5))
        n = 4 * 5 * 2
        assert_close(layer.running_var.value, 0.5 + 0.5 * var.reshape(-1) * n / (n - 1))
        assert_close(layer.running_mean.value, 0.5 * mean.reshape(-1))
        inference = xpnn.to_numpy(layer(on_backend(x)))
        expected = (x - 0.5 * mean) / np.sqrt(0.5 + 0.5 * var * n / (n - 1) + 1e-5)
        assert_close(inference, expected)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_on_images_gradcheck(xp, training):
    layer = xpnn.BatchNorm2D(3)
    layer.gamma.value = on_backend(host_normal(3, seed=1), dtype="float32")
    layer.beta.value = on_backend(host_normal(3, seed=2), dtype="float32")
    # small images: the objective sums fewer terms, so its rounding stays under atol
    assert gradcheck(layer, on_backend(host_normal(3, 3, 2, 3)), training=training)


def test_batchnorm_on_images_agrees_across_backends(other_backend):
    make = lambda: xpnn.Sequential(xpnn.Conv2D(2, 3, 2), xpnn.BatchNorm2D(3), xpnn.Flatten())  # noqa: E731
    check_backends(make, host_normal(3, 2, 4, 4, seed=6), backends=[other_backend])


def test_batchnorm_image_errors(xp):
    with pytest.raises(ValueError, match=r"BatchNorm: x has shape \(4, 2, 5, 5\), expected \(batch, 3\) or "
                                         r"\(batch, 3, height, width\) for a layer with num_features=3"):
        xpnn.BatchNorm(3).forward(on_backend(np.ones((4, 2, 5, 5)), dtype="float32"))
    with pytest.raises(ValueError, match=r"BatchNorm2D: x has shape \(4, 3\), expected \(batch, 3, height, width\) "
                                         r"for a layer with num_features=3"):
        xpnn.BatchNorm2D(3).forward(on_backend(np.ones((4, 3)), dtype="float32"))
    assert repr(xpnn.BatchNorm2D(3)) == "BatchNorm2D(3, momentum=0.1, eps=1e-05)"


def test_dropout_works_on_images(xp):
    layer = xpnn.Dropout(0.5, seed=1)
    x = on_backend(np.ones((2, 3, 4, 4)), dtype="float32")
    out, backward = layer.forward(x)
    kept = xpnn.to_numpy(out) != 0
    assert out.shape == x.shape and 0 < kept.mean() < 1
    assert (xpnn.to_numpy(backward(x)) != 0).tolist() == kept.tolist()
