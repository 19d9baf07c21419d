"""Conv2D: PyTorch's cross-correlation, checked against a loop written out here and SciPy,
float64 gradchecks of every configuration on every backend, cross-backend agreement, and the
errors for bad arguments and bad shapes."""

import numpy as np
import pytest

import xpnn
from xpnn.testing import assert_close, check_backends, gradcheck

from .helpers import host_normal, on_backend

# (kernel_size, stride, padding, dilation, bias) on a (2, 2, 5, 6) input: stride 1 and 2,
# padding 0/1/"same"/"valid"/asymmetric pairs, dilation 1 and 2, non-square kernels
CONFIGS = {
    "3x3": (3, 1, 0, 1, True),
    "2x3 stride 2 pad 1": ((2, 3), 2, 1, 1, True),
    "3x2 stride (2,1) pad (0,1) no bias": ((3, 2), (2, 1), (0, 1), 1, False),
    "3x3 dilation 2 pad 1": (3, 1, 1, 2, True),
    "2x2 dilation (1,2) stride 2": (2, 2, 0, (1, 2), False),
    "same 3x3": (3, 1, "same", 1, True),
    "same 2x3 dilation 2 (even total padding split)": ((2, 3), 1, "same", 2, False),
    "same 4x2 (odd total padding)": ((4, 2), 1, "same", 1, True),
    "valid 1x1": (1, 1, "valid", 1, True),
}
X_SHAPE = (2, 2, 5, 6)


def make(config, in_channels=2, out_channels=3, **extra):
    kernel, stride, padding, dilation, bias = CONFIGS[config]
    return xpnn.Conv2D(in_channels, out_channels, kernel, stride=stride, padding=padding,
                       dilation=dilation, bias=bias, **extra)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def reference_conv(x, w, b, stride, padding, dilation):
    """PyTorch's Conv2d written as loops: out[n,o,y,x] = b[o] + sum w[o,c,i,j] xpad[n,c,y s+i d,x s+j d]."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    kh, kw = w.shape[2:]
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    elif padding == "valid":
        pads = (0, 0, 0, 0)
    else:
        ph, pw = pair(padding)
        pads = (ph, ph, pw, pw)
    xpad = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    oh = (xpad.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xpad.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            for y in range(oh):
                for xx in range(ow):
                    total = 0.0 if b is None else b[o]
                    for c in range(x.shape[1]):
                        for i in range(kh):
                            for j in range(kw):
                                total += w[o, c, i, j] * xpad[n, c, y * sh + i * dh, xx * sw + j * dw]
                    out[n, o, y, xx] = total
    return out


def host_weights(layer):
    return (xpnn.to_numpy(layer.weight.value),
            None if layer.bias is None else xpnn.to_numpy(layer.bias.value))


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_forward_matches_the_loops_of_the_definition(xp, config):
    layer = make(config).astype("float64")
    layer.bias is not None and setattr(layer.bias, "value", on_backend(host_normal(3, seed=4)))
    x = host_normal(*X_SHAPE)
    w, b = host_weights(layer)
    _, stride, padding, dilation, _ = CONFIGS[config]
    assert_close(layer(on_backend(x)), reference_conv(x, w, b, stride, padding, dilation))


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_gradcheck(xp, config):
    layer = make(config)
    assert gradcheck(layer, on_backend(host_normal(*X_SHAPE)))


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_agrees_across_backends(other_backend, config):
    x = host_normal(*X_SHAPE, seed=3)
    assert check_backends(lambda: make(config), x, backends=[other_backend]) == [other_backend]


def test_float32_agrees_across_backends_through_a_small_cnn(other_backend):
    def cnn():
        return xpnn.Sequential(
            xpnn.Conv2D(1, 4, 3, padding=1, activation="relu"), xpnn.MaxPool2D(2),
            xpnn.Conv2D(4, 4, (2, 3), stride=(1, 2), dilation=(2, 1)), xpnn.BatchNorm(4),
            xpnn.AvgPool2D(2, stride=1, padding=1), xpnn.Flatten(), xpnn.Dense(24, 3))

    x, y = host_normal(4, 1, 8, 8, seed=8), np.array([0, 1, 2, 1])
    for dtype in ("float64", "float32"):
        check_backends(cnn, x, y, loss=xpnn.CrossEntropy(), backends=[other_backend], dtype=dtype)


def test_a_single_channel_convolution_is_scipy_correlate(xp):
    signal = pytest.importorskip("scipy.signal")  # scikit-learn, in the test extra, brings SciPy
    layer = xpnn.Conv2D(1, 1, (3, 4), bias=False).astype("float64")
    x = host_normal(1, 1, 7, 9, seed=2)
    expected = signal.correlate(x[0, 0], xpnn.to_numpy(layer.weight.value)[0, 0], mode="valid")
    assert_close(layer(on_backend(x))[0, 0, ...], expected)


def test_backward_is_the_adjoint_of_forward(xp):
    """<conv(x), g> = <x, dL/dx> for a linear layer (no bias): dL/dx is col2im of the columns."""
    layer = make("2x3 stride 2 pad 1").astype("float64")
    layer.bias = None
    x, x_host = on_backend(host_normal(*X_SHAPE)), host_normal(*X_SHAPE)
    out, backward = layer.forward(x)
    g = host_normal(*out.shape, seed=9)
    dx = xpnn.to_numpy(backward(on_backend(g)))
    assert np.sum(xpnn.to_numpy(out) * g) == pytest.approx(np.sum(x_host * dx), rel=1e-12)


def test_activation_gradients_accumulate_and_first_layer_skips_dx(xp):
    layer = xpnn.Conv2D(2, 3, 3, padding=1, activation="tanh").astype("float64")
    x = on_backend(host_normal(*X_SHAPE))
    assert gradcheck(layer, x)
    layer.zero_grad()
    _, backward = layer.forward(x)
    dout = on_backend(host_normal(2, 3, 5, 6, seed=1))
    backward(dout)
    once = xpnn.to_numpy(layer.weight.grad).copy()
    assert backward(dout, input_grad=False) is None
    assert_close(layer.weight.grad, 2 * once)


def test_weights_have_pytorchs_layout_and_he_init():
    layer = xpnn.Conv2D(16, 32, (5, 3), rng=0)
    assert layer.weight.shape == (32, 16, 5, 3) and layer.bias.shape == (32,)
    w = xpnn.to_numpy(layer.weight.value)
    assert w.flags.c_contiguous and w.dtype == np.float32
    assert w.std() == pytest.approx(np.sqrt(2 / (16 * 5 * 3)), rel=0.05)
    assert xpnn.to_numpy(layer.bias.value).tolist() == [0.0] * 32
    tanh = xpnn.to_numpy(xpnn.Conv2D(16, 32, 3, activation="tanh", rng=0).weight.value)
    assert tanh.std() == pytest.approx(np.sqrt(2 / ((16 + 32) * 9)), rel=0.05)  # PyTorch's fans


def test_output_size_is_pytorchs_formula():
    for h, k, s, p, d in [(28, 5, 1, 0, 1), (28, 3, 2, 1, 1), (9, 3, 2, 0, 2), (7, 2, 3, 1, 1)]:
        layer = xpnn.Conv2D(1, 1, k, stride=s, padding=p, dilation=d)
        out = layer(xpnn.asarray(np.zeros((1, 1, h, h)), dtype="float32"))
        assert out.shape[2] == (h + 2 * p - d * (k - 1) - 1) // s + 1


def test_config_round_trip_and_repr():
    layer = xpnn.Conv2D(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=(1, 2), bias=False,
                        activation="relu", dtype="float64")
    config = layer.get_config()
    assert config == {"in_channels": 3, "out_channels": 8, "kernel_size": [3, 5], "stride": [2, 2],
                      "padding": [1, 2], "dilation": [1, 2], "bias": False,
                      "activation": {"class": "ReLU", "config": {}}, "dtype": "float64"}
    rebuilt = xpnn.nn.layer.layer_from_config(xpnn.nn.layer.layer_config(layer))
    assert rebuilt.get_config() == config
    assert repr(rebuilt) == ("Conv2D(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), "
                             "dilation=(1, 2), bias=False, activation=ReLU())")
    assert xpnn.Conv2D(1, 2, 3, padding="same").get_config()["padding"] == "same"


# ----------------------------------------------------------- bad input

@pytest.mark.parametrize("shape", [
    (32, 28, 28),
    (32, 1, 28, 28),
    (32, 784),
])
def test_wrong_input_shape_names_what_was_expected(xp, shape):
    with pytest.raises(ValueError, match=rf"Conv2D: x has shape \({', '.join(map(str, shape))},?\), "
                                         r"expected \(batch, 3, height, width\) for a layer with in_channels=3"):
        xpnn.Conv2D(3, 4, 3).forward(on_backend(np.zeros(shape), dtype="float32"))


def test_a_missing_channel_axis_gets_a_hint(xp):
    with pytest.raises(ValueError, match=r"expected \(batch, 1, height, width\) for a layer with "
                                         r"in_channels=1; add the channel axis with x.reshape\(-1, 1, 28, 28\)"):
        xpnn.Conv2D(1, 4, 3).forward(on_backend(np.zeros((32, 28, 28)), dtype="float32"))


def test_an_image_smaller_than_the_kernel(xp):
    with pytest.raises(ValueError, match=r"Conv2D: x has shape \(2, 1, 4, 4\): its images, 4x4 after padding, "
                                         r"are smaller than the 5x5 window of the kernel"):
        xpnn.Conv2D(1, 2, 3, dilation=2).forward(on_backend(np.zeros((2, 1, 4, 4)), dtype="float32"))


def test_integer_and_mismatched_dtypes(xp):
    with pytest.raises(TypeError, match="Conv2D: x must be a floating-point array"):
        xpnn.Conv2D(1, 2, 1).forward(xp.zeros((1, 1, 2, 2), dtype=xp.int64))
    with pytest.raises(TypeError, match="Conv2D: x has dtype float64 but the layer's weight has float32"):
        xpnn.Conv2D(1, 2, 1).forward(on_backend(np.zeros((1, 1, 2, 2))))


def test_backward_with_a_wrongly_shaped_gradient(xp):
    _, backward = xpnn.Conv2D(1, 2, 3).forward(on_backend(np.zeros((2, 1, 5, 5)), dtype="float32"))
    with pytest.raises(ValueError, match=r"Conv2D.backward: dout has shape \(2, 2, 5, 5\), "
                                         r"expected the output shape \(2, 2, 3, 3\)"):
        backward(on_backend(np.zeros((2, 2, 5, 5)), dtype="float32"))


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 0}, "Conv2D: kernel_size must be a positive int or a pair of them, got 0"),
    ({"kernel_size": (3, 3, 3)}, r"Conv2D: kernel_size must be a positive int or a pair of them, got \(3, 3, 3\)"),
    ({"kernel_size": 2.5}, "Conv2D: kernel_size must be a positive int or a pair of them, got 2.5"),
    ({"stride": 0}, "Conv2D: stride must be a positive int or a pair of them, got 0"),
    ({"dilation": (1, 0)}, r"Conv2D: dilation must be a positive int or a pair of them, got \(1, 0\)"),
    ({"padding": -1}, "Conv2D: padding must be an int >= 0 or a pair of them, got -1"),
    ({"padding": "full"}, "Conv2D: padding must be an int >= 0, a pair of them, 'same' or 'valid', got 'full'"),
    ({"padding": "same", "stride": 2}, r"Conv2D: padding='same' needs stride 1 \(as PyTorch\), got stride \(2, 2\)"),
    ({"in_channels": 0}, "Conv2D: in_channels must be a positive int, got 0"),
    ({"out_channels": True}, "Conv2D: out_channels must be a positive int, got True"),
])
def test_bad_arguments(kwargs, message):
    arguments = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        xpnn.Conv2D(**arguments)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_matches_pytorch_when_it_is_installed():
    """Outputs and gradients of Conv2D, MaxPool2D and AvgPool2D against torch's, same weights
    (float64): the layouts and conventions carry over unchanged. Skipped without torch."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x_host = host_normal(*X_SHAPE, seed=7)
    for config in sorted(CONFIGS):
        kernel, stride, padding, dilation, bias = CONFIGS[config]
        layer = make(config).astype("float64")
        out, backward = layer.forward(xpnn.asarray(x_host, dtype="float64"))
        g = host_normal(*out.shape, seed=8)
        dx = backward(xpnn.asarray(g, dtype="float64"))
        x = torch.tensor(x_host, requires_grad=True)
        w = torch.tensor(xpnn.to_numpy(layer.weight.value), requires_grad=True)
        b = None if layer.bias is None else torch.tensor(xpnn.to_numpy(layer.bias.value), requires_grad=True)
        expected = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
        (expected * torch.tensor(g)).sum().backward()
        assert_close(out, expected.detach().numpy(), name=f"{config}: output")
        assert_close(dx, x.grad.numpy(), name=f"{config}: dx")
        assert_close(layer.weight.grad, w.grad.numpy(), name=f"{config}: dweight")
    pools = [(xpnn.MaxPool2D, F.max_pool2d), (xpnn.AvgPool2D, F.avg_pool2d)]
    for (ours, theirs), (kernel, stride, padding) in [(p, c) for p in pools for c in
                                                       [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 0))]]:
        out, backward = ours(kernel, stride=stride, padding=padding).forward(xpnn.asarray(x_host, dtype="float64"))
        g = host_normal(*out.shape, seed=9)
        x = torch.tensor(x_host, requires_grad=True)
        expected = theirs(x, kernel, stride=stride, padding=padding)
        (expected * torch.tensor(g)).sum().backward()
        assert_close(out, expected.detach().numpy(), name=f"{ours.__name__}: output")
        assert_close(backward(xpnn.asarray(g, dtype="float64")), x.grad.numpy(), name=f"{ours.__name__}: dx")
