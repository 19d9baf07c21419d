"""Activation functions: each one is a value and its derivative, defined side by side.

Every activation here exists three ways, all derived from the one definition:
- a pure function on arrays: ``relu(z)``, ``relu.derivative(z)``, ``leaky_relu(z, alpha=0.2)``;
- a layer class: ``ReLU()``, ``LeakyReLU(alpha=0.2)``, with ``forward``/``backward``, made by
  ``@activation(...)`` from the function and its derivative;
- a name in the registry: ``get("relu")``, used by ``Dense(..., activation="relu")``.

A derivative receives the input ``z`` and the output ``a`` and uses whichever is cheaper
(sigmoid a(1-a), tanh 1-a^2); ``saves`` says which of the two the backward closure keeps, so
memory holds only what the derivative reads. Softmax and log-softmax are not elementwise: they
define a vector-Jacobian product instead of a derivative.
"""

from __future__ import annotations

import inspect
import math
import numbers

from ..backend import asarray, dtype_name, namespace_of, ops_for
from ..utils.registry import Registry
from ..utils.validation import check_float_array, check_float_dtype, check_int, check_number, check_output_shape
from . import special
from .layer import Layer
from .parameter import Parameter

_SAVES = ("input", "output", "both", "none")


class Activation(Layer):
    """A parameter-free layer applying one ActivationFunction; each registered activation has
    its own subclass (``ReLU``, ``GELU``...), which sets ``function``."""

    function: "ActivationFunction"

    def __init__(self, **hyper):
        self.hyper = self.function.hyper(**hyper)

    @property
    def default_init(self) -> str:
        """The weight initializer that suits a layer followed by this activation."""
        return self.function.default_init

    def forward(self, x, training: bool = True):
        xp = namespace_of(x=x)
        check_float_array(xp, x, "x", type(self).__name__)
        return self.apply_checked(xp, x)

    def apply_checked(self, xp, x):
        """``forward`` for an ``x`` of namespace ``xp`` already known to be a float array:
        for a layer that applies this activation to the output of its own matmul."""
        fn, hyper = self.function, self.hyper
        a = fn.value(xp, x, **hyper)
        z_kept = x if fn.saves in ("input", "both") else None
        a_kept = a if fn.saves in ("output", "both") else None

        where = f"{type(self).__name__}.backward"

        def backward(dout):
            check_output_shape(dout, a, where)
            return fn.backward(xp, dout, z_kept, a_kept, hyper)

        return a, backward

    def get_config(self) -> dict:
        return dict(self.hyper)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.hyper.items() if v != self.function.hyper_defaults[k]}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


#: every activation layer class by name and alias ('relu', 'swish'...)
ACTIVATIONS = Registry("activation", Layer)
#: the layer classes made from the registered functions, by class name (ReLU, Swish...)
LAYER_CLASSES: dict[str, type] = {}


class ActivationFunction:
    """One activation: ``value(xp, z, **hyper)`` and its derivative rule, plus metadata."""

    def __init__(self, name, value, *, layer_name, layer_aliases=(), saves, default_init,
                 aliases=(), check=None):
        if saves not in _SAVES:
            raise ValueError(f"saves must be one of {_SAVES}, got {saves!r}")
        self.name = name
        self.value = value
        self.saves = saves
        self.default_init = default_init
        self.check = check
        self._derivative = None
        self._vjp = None
        self.hyper_defaults = {
            p.name: p.default
            for p in inspect.signature(value).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        self.__doc__ = value.__doc__
        self.layer_class = self._make_layer_class(layer_name)
        ACTIVATIONS.add(self.layer_class, name, *aliases)
        for class_name in (layer_name, *layer_aliases):
            LAYER_CLASSES[class_name] = self.layer_class

    def _make_layer_class(self, class_name: str) -> type:
        cls = type(class_name, (Activation,), {
            "function": self,
            "__doc__": f"Layer form of the {self.name!r} activation. {self.__doc__ or ''}",
            "__module__": __name__,
        })
        cls.__signature__ = inspect.Signature([
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
            for k, v in self.hyper_defaults.items()
        ])
        return cls

    # -- definition (used once, right under the value function)
    def def_derivative(self, rule):
        """Register ``rule(xp, z, a, **hyper)``: the elementwise derivative da/dz."""
        self._derivative = rule
        return rule

    def def_vjp(self, rule):
        """Register ``rule(xp, dout, z, a, **hyper)``: dL/dz for a non-elementwise activation."""
        self._vjp = rule
        return rule

    # -- use
    def hyper(self, **given) -> dict:
        """Hyper-parameters completed with defaults and checked; unknown names are an error."""
        unknown = set(given) - set(self.hyper_defaults)
        if unknown:
            allowed = ", ".join(self.hyper_defaults) or "none"
            raise TypeError(
                f"activation {self.name!r} got unknown argument(s) {sorted(unknown)}; "
                f"it takes: {allowed}"
            )
        values = {**self.hyper_defaults, **given}
        if self.check is not None:
            self.check(self.name, **values)
        # plain Python floats: a NumPy scalar would be saved as one and fail on array_api_strict
        return {key: float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else value
                for key, value in values.items()}

    def __call__(self, z, **hyper):
        xp = namespace_of(z=z)
        check_float_array(xp, z, "z", self.name)
        return self.value(xp, z, **self.hyper(**hyper))

    def derivative(self, z, **hyper):
        """da/dz elementwise at ``z`` (elementwise activations only)."""
        if self._derivative is None:
            raise TypeError(f"{self.name} is not elementwise; use .vjp(z, dout)")
        xp = namespace_of(z=z)
        check_float_array(xp, z, "z", self.name)
        values = self.hyper(**hyper)
        return self._derivative(xp, z, self.value(xp, z, **values), **values)

    def vjp(self, z, dout, **hyper):
        """dL/dz given dL/da at ``z``."""
        xp = namespace_of(z=z, dout=dout)
        values = self.hyper(**hyper)
        return self.backward(xp, dout, z, self.value(xp, z, **values), values)

    def backward(self, xp, dout, z, a, values):
        """dL/dz from dL/da, given the input ``z`` and output ``a`` the rule reads (``saves``
        says which of them may be None) and the checked hyper-parameters ``values``."""
        if self._vjp is not None:
            return self._vjp(xp, dout, z, a, **values)
        return dout * self._derivative(xp, z, a, **values)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def activation(name, *, layer_name, layer_aliases=(), saves, default_init="xavier_normal",
               aliases=(), check=None):
    """Decorator turning a value function into a registered ActivationFunction, with its layer
    class ``layer_name`` (also known as each of ``layer_aliases``)."""

    def register(value):
        return ActivationFunction(
            name, value, layer_name=layer_name, layer_aliases=layer_aliases, saves=saves,
            default_init=default_init, aliases=aliases, check=check,
        )

    return register


def _mask(xp, condition, like):
    return xp.astype(condition, like.dtype)


def _finite(name, **hyper):
    """Every numeric hyper-parameter finite; scales (sigma, beta) also positive."""
    for key, value in hyper.items():
        check_number(value, key, name, low=0 if key in ("sigma", "beta") else None, low_open=True)


def _ordered_range(low_name, high_name):
    def check(name, **hyper):
        low = check_number(hyper[low_name], low_name, name)
        high = check_number(hyper[high_name], high_name, name)
        if not low < high:
            raise ValueError(f"{name}: {low_name} must be < {high_name}, got {low} and {high}")

    return check


# ------------------------------------------------------------------ the classic ones

@activation("identity", layer_name="Identity", saves="none", aliases=("linear",))
def identity(xp, z):
    """a = z."""
    return z


@identity.def_vjp
def _(xp, dout, z, a):
    return dout


@activation("sigmoid", layer_name="Sigmoid", saves="output", aliases=("logistic",), check=_finite)
def sigmoid(xp, z, *, beta=1.0):
    """a = 1 / (1 + exp(-beta z)); computed from exp(-|beta z|) so it never overflows."""
    return special.sigmoid(xp, beta * z)


@sigmoid.def_derivative
def _(xp, z, a, *, beta):
    return beta * a * (1.0 - a)


@activation("tanh", layer_name="Tanh", saves="output")
def tanh(xp, z):
    """a = tanh(z)."""
    return xp.tanh(z)


@tanh.def_derivative
def _(xp, z, a):
    return 1.0 - a * a


@activation("relu", layer_name="ReLU", saves="output", default_init="he_normal")
def relu(xp, z):
    """a = max(0, z); the derivative is 1 for z > 0 and 0 for z <= 0 (0 at the kink)."""
    return xp.maximum(z, 0.0)


@relu.def_derivative
def _(xp, z, a):
    return _mask(xp, a > 0, a)


@activation("leaky_relu", layer_name="LeakyReLU", saves="input", default_init="he_normal", check=_finite)
def leaky_relu(xp, z, *, alpha=0.01):
    """a = z for z > 0, alpha z otherwise."""
    return xp.where(z > 0, z, alpha * z)


@leaky_relu.def_derivative
def _(xp, z, a, *, alpha):
    return alpha + (1.0 - alpha) * _mask(xp, z > 0, z)


@activation("elu", layer_name="ELU", saves="input", default_init="he_normal", check=_finite)
def elu(xp, z, *, alpha=1.0):
    """a = z for z > 0, alpha (exp(z) - 1) otherwise."""
    return xp.where(z > 0, z, alpha * xp.expm1(xp.minimum(z, 0.0)))


@elu.def_derivative
def _(xp, z, a, *, alpha):
    return xp.where(z > 0, 1.0, alpha * xp.exp(xp.minimum(z, 0.0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@activation("selu", layer_name="SELU", saves="input", default_init="lecun_normal")
def selu(xp, z):
    """a = scale * elu(z, alpha) with the self-normalising constants of Klambauer et al."""
    return _SELU_SCALE * xp.where(z > 0, z, _SELU_ALPHA * xp.expm1(xp.minimum(z, 0.0)))


@selu.def_derivative
def _(xp, z, a):
    return _SELU_SCALE * xp.where(z > 0, 1.0, _SELU_ALPHA * xp.exp(xp.minimum(z, 0.0)))


# ------------------------------------------------------------------ smooth ReLU relatives

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _gelu_check(name, *, approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{name}: approximate must be 'none' or 'tanh', got {approximate!r}")


@activation("gelu", layer_name="GELU", saves="input", default_init="he_normal", check=_gelu_check)
def gelu(xp, z, *, approximate="none"):
    """a = z Phi(z) (exact, with erf from xpnn.special), or the tanh approximation."""
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (z + _GELU_CUBIC * z * z * z)
        return 0.5 * z * (1.0 + xp.tanh(inner))
    return z * special.normal_cdf(xp, z)


@gelu.def_derivative
def _(xp, z, a, *, approximate):
    if approximate == "tanh":
        t = xp.tanh(_SQRT_2_OVER_PI * (z + _GELU_CUBIC * z * z * z))
        d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * z * z)
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * d_inner
    return special.normal_cdf(xp, z) + z * special.normal_pdf(xp, z)


@activation("silu", layer_name="SiLU", layer_aliases=("Swish",), saves="input", default_init="he_normal", aliases=("swish",))
def silu(xp, z):
    """a = z sigmoid(z)."""
    return z * special.sigmoid(xp, z)


@silu.def_derivative
def _(xp, z, a):
    s = special.sigmoid(xp, z)
    return s * (1.0 + z * (1.0 - s))


@activation("softplus", layer_name="Softplus", saves="input")
def softplus(xp, z):
    """a = log(1 + exp(z)), as logaddexp(0, z) so it neither overflows nor loses small values."""
    return xp.logaddexp(0.0, z)


@softplus.def_derivative
def _(xp, z, a):
    return special.sigmoid(xp, z)


@activation("mish", layer_name="Mish", saves="input", default_init="he_normal")
def mish(xp, z):
    """a = z tanh(softplus(z))."""
    return z * xp.tanh(xp.logaddexp(0.0, z))


@mish.def_derivative
def _(xp, z, a):
    t = xp.tanh(xp.logaddexp(0.0, z))
    return t + z * special.sigmoid(xp, z) * (1.0 - t * t)


# ------------------------------------------------------------------ piecewise linear and others

@activation("hard_sigmoid", layer_name="HardSigmoid", layer_aliases=("PiecewiseLinear",), saves="input", aliases=("piecewise_linear",),
            check=_ordered_range("x_min", "x_max"))
def hard_sigmoid(xp, z, *, x_min=-3.0, x_max=3.0):
    """The piecewise-linear unit: 0 for z <= x_min, 1 for z >= x_max, the line m z + b
    joining them in between (m = 1/(x_max - x_min)). Defaults match PyTorch/Keras."""
    return ops_for(xp).clip((z - x_min) * (1.0 / (x_max - x_min)), 0.0, 1.0)


@hard_sigmoid.def_derivative
def _(xp, z, a, *, x_min, x_max):
    return (1.0 / (x_max - x_min)) * _mask(xp, (z > x_min) & (z < x_max), z)


@activation("hard_tanh", layer_name="HardTanh", saves="input", check=_ordered_range("min_val", "max_val"))
def hard_tanh(xp, z, *, min_val=-1.0, max_val=1.0):
    """a = clip(z, min_val, max_val)."""
    return ops_for(xp).clip(z, min_val, max_val)


@hard_tanh.def_derivative
def _(xp, z, a, *, min_val, max_val):
    return _mask(xp, (z > min_val) & (z < max_val), z)


@activation("gaussian", layer_name="Gaussian", saves="both", check=_finite)
def gaussian(xp, z, *, mu=0.0, sigma=1.0):
    """a = exp(-(z - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi)), the normal density.
    (Some texts print the normaliser as sqrt(2 pi sigma); the two agree at sigma = 1.)"""
    u = (z - mu) * (1.0 / sigma)
    return xp.exp(-0.5 * u * u) * (1.0 / (sigma * math.sqrt(2.0 * math.pi)))


@gaussian.def_derivative
def _(xp, z, a, *, mu, sigma):
    return -(z - mu) * (1.0 / (sigma * sigma)) * a


@activation("step", layer_name="Step", saves="none", aliases=("heaviside", "threshold"))
def step(xp, z):
    """Heaviside: a = 1 for z >= 0, 0 otherwise; its derivative is 0 wherever it exists,
    so it trains only with the perceptron rule, never by backpropagation."""
    return _mask(xp, z >= 0, z)


@step.def_vjp
def _(xp, dout, z, a):
    return xp.zeros_like(dout)


# ------------------------------------------------------------------ along the last axis

@activation("softmax", layer_name="Softmax", saves="output")
def softmax(xp, z):
    """a_i = exp(z_i - max z) / sum_j exp(z_j - max z) along the last axis."""
    e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


@softmax.def_vjp
def _(xp, dout, z, a):
    return a * (dout - xp.sum(dout * a, axis=-1, keepdims=True))


@activation("log_softmax", layer_name="LogSoftmax", saves="output")
def log_softmax(xp, z):
    """a_i = z_i - max z - log sum_j exp(z_j - max z) along the last axis."""
    return ops_for(xp).log_softmax(z)


@log_softmax.def_vjp
def _(xp, dout, z, a):
    return dout - xp.exp(a) * xp.sum(dout, axis=-1, keepdims=True)


# ------------------------------------------------------------------ layers

# the layer classes made above, as module names: ReLU, GELU, Swish...
globals().update(LAYER_CLASSES)


class PReLU(Layer):
    """Leaky ReLU whose negative slope is learned: a = z for z > 0, alpha z otherwise, with
    ``alpha`` a Parameter of shape (num_parameters,) broadcast over the last (feature) axis
    (He et al., "Delving Deep into Rectifiers", 2015; PyTorch's PReLU)."""

    function = leaky_relu  # its value and derivative, with a learned alpha
    default_init = leaky_relu.default_init

    def __init__(self, num_parameters: int = 1, init: float = 0.25, *, dtype="float32"):
        check_int(num_parameters, "num_parameters", "PReLU", minimum=1)
        init = check_number(init, "init", "PReLU")
        check_float_dtype(dtype, "dtype", "PReLU")
        self.alpha = Parameter(asarray([init] * num_parameters, dtype=dtype), name="alpha")

    def forward(self, x, training: bool = True):
        alpha = self.alpha
        xp = namespace_of(x=x, alpha=alpha.value)
        check_float_array(xp, x, "x", "PReLU")
        n = alpha.shape[0]
        if n != 1 and (x.ndim == 0 or x.shape[-1] != n):
            raise ValueError(
                f"PReLU: x has shape {tuple(x.shape)} but alpha has {n} values; the last axis "
                f"of x must be {n}"
            )
        positive = x > 0
        a = xp.where(positive, x, alpha.value * x)

        def backward(dout):
            check_output_shape(dout, a, "PReLU.backward")
            if alpha.trainable:
                contribution = xp.where(positive, 0.0, dout * x)
                axes = tuple(range(x.ndim - 1)) if n != 1 else None
                d_alpha = xp.sum(contribution, axis=axes)
                alpha.accumulate(xp.reshape(d_alpha, (n,)))
            return xp.where(positive, dout, alpha.value * dout)

        return a, backward

    def get_config(self) -> dict:
        return {"num_parameters": self.alpha.shape[0], "dtype": dtype_name(self.alpha.dtype)}

    def __repr__(self) -> str:
        return f"PReLU(num_parameters={self.alpha.shape[0]})"


ACTIVATIONS.add(PReLU, "prelu")


def names() -> list[str]:
    """Every name ``get`` accepts."""
    return ACTIVATIONS.names()


def get(spec, **hyper) -> Layer | None:
    """An activation layer from a name ('relu'), a layer class or instance, or an
    ActivationFunction (``relu``); None stays None. ``hyper`` goes to the constructor.
    Raises ValueError for an unknown name (listing the valid ones), TypeError otherwise."""
    if spec is None:
        return None
    if isinstance(spec, ActivationFunction):
        return spec.layer_class(**hyper)
    return ACTIVATIONS.get(spec, **hyper)


def default_init_for(layer: Layer | None) -> str:
    """The initializer for weights followed by ``layer``: He-normal for the ReLU family,
    LeCun-normal for SELU, Xavier-normal otherwise (and for no activation)."""
    return layer.default_init if isinstance(layer, (Activation, PReLU)) else "xavier_normal"


__all__ = [
    "ActivationFunction", "Activation", "activation", "get", "names", "default_init_for",
    "ACTIVATIONS", "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu",
    "silu", "softplus", "mish", "hard_sigmoid", "hard_tanh", "gaussian", "step", "softmax",
    "log_softmax", "PReLU", *LAYER_CLASSES,
]
