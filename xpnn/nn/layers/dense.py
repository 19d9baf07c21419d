"""The fully connected layer: y = act(x @ weight + bias), and its delta rule."""

from __future__ import annotations

from ...backend import dtype_name, namespace_of
from ...utils.validation import (
    check_batch_of_features, check_bool, check_float_array, check_float_dtype, check_int, check_output_shape,
    check_parameter_memory, check_same_dtype,
)
from .. import activations, init as initializers
from ..activations import Activation
from ..layer import Layer, can_skip_input_grad, layer_config, layer_from_config
from ..parameter import Parameter


class Dense(Layer):
    """``weight`` has shape (in_features, out_features) and ``bias`` (out_features,).

    Backward is the delta rule of backpropagation with the batch on the leading axis:
    delta = dL/dy * act'(z), dW = x^T delta, db = sum over the batch of delta, dx = delta W^T.
    ``init`` defaults to He-normal for ReLU-family activations and Xavier-normal otherwise;
    biases start at zero. ``rng`` is a seed or NumPy Generator (default: the library stream).
    """

    def __init__(self, in_features: int, out_features: int, *, activation=None, bias=True,
                 init=None, dtype="float32", rng=None):
        self.in_features = check_int(in_features, "in_features", "Dense", minimum=1)
        self.out_features = check_int(out_features, "out_features", "Dense", minimum=1)
        check_float_dtype(dtype, "dtype", "Dense")
        check_bool(bias, "bias", "Dense")
        check_parameter_memory((self.in_features, self.out_features), dtype, "weight", "Dense")
        activation = activations.get(activation)
        initializer = initializers.get(init or activations.default_init_for(activation))
        shape = (self.in_features, self.out_features)
        self.weight = Parameter(initializer(shape, rng=rng, dtype=dtype), name="weight")
        self.bias = (
            Parameter(initializers.zeros((self.out_features,), dtype=dtype), name="bias")
            if bias else None
        )
        self.activation = activation  # after the weights: parameters() lists them first

    def forward(self, x, training: bool = True):
        weight, bias, activation = self.weight, self.bias, self.activation
        xp = namespace_of(x=x, weight=weight.value)
        self._check_input(xp, x)
        z = x @ weight.value
        if bias is not None:
            # a new array, not z += bias: in place changes when the allocator hands memory back
            # to the system, and on the CPU those page faults cost more than the temporary
            z = z + bias.value
        if activation is None:
            out, activation_backward = z, None
        elif type(activation).forward is Activation.forward:  # z comes checked from the matmul
            out, activation_backward = activation.apply_checked(xp, z)
        else:
            out, activation_backward = activation.forward(z, training)

        @can_skip_input_grad
        def backward(dout, input_grad=True):
            check_output_shape(dout, out, "Dense.backward")
            delta = dout if activation_backward is None else activation_backward(dout)
            # .T, the standard's transpose of a 2-D array (x and the weight are, see
            # _check_input), without matrix_transpose's argument handling
            if weight.trainable:
                weight.accumulate(x.T @ delta)
            if bias is not None and bias.trainable:
                bias.accumulate(xp.sum(delta, axis=0))
            return delta @ weight.value.T if input_grad else None

        return out, backward

    def _check_input(self, xp, x):
        check_batch_of_features(x, self.in_features, "in_features", "Dense")
        check_float_array(xp, x, "x", "Dense")
        check_same_dtype(x, self.weight.value, "x", "the layer's weight", "Dense")

    def get_config(self) -> dict:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": None if self.activation is None else layer_config(self.activation),
            "bias": self.bias is not None,
            "dtype": dtype_name(self.weight.dtype),
        }

    @classmethod
    def from_config(cls, config: dict) -> "Dense":
        activation = config.get("activation")
        config = {**config, "activation": None if activation is None else layer_from_config(activation)}
        return cls(**config)

    def __repr__(self) -> str:
        extra = "" if self.activation is None else f", activation={self.activation!r}"
        extra += "" if self.bias is not None else ", bias=False"
        return f"Dense({self.in_features}, {self.out_features}{extra})"
