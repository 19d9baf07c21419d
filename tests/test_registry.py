"""One ``get`` convention for everything that has a name (xpnn/utils/registry.py): an object
passes through, a class or a name is built with the arguments, an unknown name is a ValueError
that lists the valid names, anything else a TypeError that says what was expected."""

import pytest

import xpnn
from xpnn import activations, init, losses, metrics, optimizers, schedules
from xpnn.nn.layer import layer_config, layer_from_config

# (get, a name with arguments, the class that gives, an instance)
KINDS = {
    "activation": (activations.get, ("leaky_relu", {"alpha": 0.3}), xpnn.LeakyReLU, xpnn.ReLU()),
    "loss": (losses.get, ("huber", {"delta": 2.0}), xpnn.Huber, xpnn.MSE()),
    "metric": (metrics.get, ("binary_accuracy", {"threshold": 0.0}), metrics.BinaryAccuracy, metrics.R2()),
    "optimizer": (optimizers.get, ("adamw", {"lr": 0.5}), xpnn.AdamW, xpnn.SGD()),
    "schedule": (schedules.get, ("step_decay", {"lr": 0.1, "every": 3}), schedules.StepDecay,
                 schedules.CosineDecay(0.1, 5)),
}


@pytest.mark.parametrize("kind", KINDS)
def test_one_get_convention(kind):
    get, (name, arguments), cls, instance = KINDS[kind]
    assert get(instance) is instance
    built = get(name, **arguments)
    assert type(built) is cls
    assert type(get(name.upper().replace("_", "-"), **arguments)) is cls  # any case, '-' or '_'
    assert type(get(cls, **arguments)) is cls
    with pytest.raises(ValueError, match=rf"unknown {kind} 'nonsense'; valid names: .*{name}"):
        get("nonsense")
    with pytest.raises(TypeError, match=rf"{kind} must be a name, an? {kind} class or an? {kind} object, got list"):
        get([name])
    with pytest.raises(TypeError, match=f"{kind} arguments can only be given with a name or a class"):
        get(instance, **arguments)


def test_initializers_are_functions_in_the_same_registry():
    assert init.get("kaiming_normal") is init.he_normal and init.get(init.zeros) is init.zeros
    with pytest.raises(ValueError, match="unknown initializer 'glorot'; valid names: .*glorot_normal"):
        init.get("glorot")
    with pytest.raises(TypeError, match="initializer 'he_normal' takes no arguments here"):
        init.get("he_normal", std=1.0)


def test_activation_layer_classes_come_from_the_registered_functions():
    for name in activations.names():
        layer = activations.get(name)
        assert isinstance(layer, xpnn.Layer)
        if name != "prelu":
            assert type(layer).function is activations.ACTIVATIONS.lookup(name).function
            assert getattr(xpnn, type(layer).__name__) is type(layer)
    assert xpnn.Swish is xpnn.SiLU and xpnn.PiecewiseLinear is xpnn.HardSigmoid
    assert activations.get(activations.gelu, approximate="tanh").hyper == {"approximate": "tanh"}


def test_layers_are_rebuilt_from_their_class_key_only():
    class Doubling(xpnn.Layer):
        def forward(self, x, training=True):
            return 2 * x, lambda dout: 2 * dout

        def get_config(self):
            return {}

    spec = layer_config(Doubling())
    assert spec == {"class": f"{__name__}.{Doubling.__qualname__}", "config": {}}
    assert type(layer_from_config(spec)) is Doubling
    with pytest.raises(ValueError, match="unknown layer class 'os.system'"):
        layer_from_config({"class": "os.system", "config": {}})
