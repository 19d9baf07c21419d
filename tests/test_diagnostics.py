"""Training-health diagnostics: layer descriptions, activations capture, the TrainingMonitor
and its warnings, fit's stop on non-finite values (issue 14)."""

import math
import warnings

import numpy as np
import pytest

import xpnn
from xpnn.diagnostics import TrainingMonitor, activations, layer_descriptions
from xpnn.testing import assert_close

from .helpers import host_normal


def small_cnn():
    return xpnn.Model(
        xpnn.Conv2D(1, 8, 3, activation="relu", rng=0), xpnn.MaxPool2D(2), xpnn.Flatten(),
        xpnn.Dropout(0.5, seed=1), xpnn.Dense(32, 3, rng=2),
    )


# ---------------------------------------------------------------- descriptions and activations

def test_layer_descriptions_name_sizes_and_activations():
    model = xpnn.Model(
        xpnn.Dense(32, 32, activation="sigmoid"), xpnn.Dropout(0.5), xpnn.BatchNorm(32), xpnn.ReLU(),
        xpnn.Dense(32, 4),
    )
    assert layer_descriptions(model) == [
        "Dense 32->32, sigmoid", "Dropout 0.5", "BatchNorm 32", "ReLU", "Dense 32->4"]
    assert layer_descriptions(small_cnn()) == [
        "Conv2D 1->8 3x3, relu", "MaxPool2D 2x2", "Flatten", "Dropout 0.5", "Dense 32->3"]
    # a single layer that is not a Sequential is one item
    assert layer_descriptions(xpnn.Dense(3, 2, activation="tanh")) == ["Dense 3->2, tanh"]
    assert layer_descriptions(xpnn.Model(xpnn.Sequential(xpnn.Dense(2, 2), xpnn.ReLU()))) == [
        "Sequential (2 layers)"]


def test_activations_are_each_top_level_layers_output(xp):
    model = xpnn.Model(xpnn.Dense(4, 5, activation="relu", rng=0), xpnn.Dense(5, 3, activation="tanh", rng=1),
                       xpnn.Dense(3, 2, rng=2))
    X = host_normal(6, 4).astype(np.float32)  # host data is moved in, as predict does
    outs = activations(model, X)
    assert len(outs) == 3
    x = xpnn.asarray(X)
    for layer, out in zip(model.layers, outs):
        x = layer(x)
        assert_close(out, x)
        assert xpnn.backend.namespace_of(out=out) is xpnn.backend.namespace_of(x=x)
    assert_close(outs[-1], model.predict(X))


def test_activations_leave_the_model_unchanged_in_training_mode(xp):
    model = xpnn.Model(xpnn.Dense(4, 6, rng=0), xpnn.BatchNorm(6), xpnn.Dropout(0.5, seed=3),
                       xpnn.Dense(6, 2, rng=1))
    X = host_normal(8, 4).astype(np.float32)
    weights_before = model.get_weights()
    first = activations(model, X, training=True)
    second = activations(model, X, training=True)  # the same masks: the stream was put back
    for a, b in zip(first, second):
        assert_close(a, b)
    for before, after in zip(weights_before, model.get_weights()):  # BatchNorm's running stats too
        np.testing.assert_array_equal(before, after)
    dropped = xpnn.to_numpy(first[2])
    assert (dropped == 0).any() and not (xpnn.to_numpy(first[1]) == 0).any()
    assert set(vars(model)) == set(vars(xpnn.Model(xpnn.Dense(1, 1))))  # no attribute left behind
    # the model used twice in a row gives the inference outputs it gave before
    assert_close(activations(model, X)[-1], model.predict(X))


def test_activations_of_a_cnn_keep_the_image_axes():
    outs = activations(small_cnn(), host_normal(2, 1, 6, 6).astype(np.float32))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 4, 4), (2, 8, 2, 2), (2, 32), (2, 32), (2, 3)]


@pytest.mark.parametrize("X, error, words", [
    (None, TypeError, "activations: X is required"),
    ([["a", "b"]], TypeError, "activations: X"),
    (np.zeros(4, dtype=np.float32), ValueError, "activations: X must have shape (samples, features)"),
    (np.zeros((2, 5), dtype=np.float32), ValueError, "activations: X of shape (2, 5) does not fit the model"),
    (np.array([[np.nan, 1, 2, 3]]), ValueError, "activations: X contains 1 NaN"),
])
def test_activations_name_a_bad_X(X, error, words):
    model = xpnn.Model(xpnn.Dense(4, 2))
    with pytest.raises(error) as caught:
        activations(model, X)
    assert words in str(caught.value)


def test_activations_and_descriptions_refuse_what_is_not_a_model():
    with pytest.raises(TypeError, match="activations: model must be an xpnn Layer"):
        activations("model", np.zeros((1, 2)))
    with pytest.raises(TypeError, match="layer_descriptions: model must be an xpnn Layer"):
        layer_descriptions([xpnn.Dense(2, 2)])
    with pytest.raises(TypeError, match="activations: training must be True or False"):
        activations(xpnn.Dense(2, 2), np.zeros((1, 2)), training=1)


def test_diagnostics_is_a_module_name():
    import xpnn.diagnostics as module

    assert module is xpnn.diagnostics is xpnn.training.diagnostics
    assert module.activations is activations


# ---------------------------------------------------------------- the monitor's warnings

def classes(n=256, features=16, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def monitored_fit(model, *, optimizer="sgd", epochs=1, **monitor_args):
    """fit with a silent monitor; returns (monitor, history)."""
    X, y = classes(features=model.layers[0].in_features)
    monitor = TrainingMonitor(verbose=0, **monitor_args)
    history = model.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=epochs, batch_size=32,
                        callbacks=[monitor], verbose=0)
    return monitor, history


def found(monitor, kind):
    return sorted({problem.layer.index for problem in monitor.problems if problem.kind == kind})


def test_a_deep_sigmoid_network_has_vanishing_gradients_in_its_first_layers():
    model = xpnn.Model(*[xpnn.Dense(16 if i == 0 else 32, 32, activation="sigmoid") for i in range(10)],
                       xpnn.Dense(32, 2))
    monitor, history = monitored_fit(model)
    ratios = history.diagnostics["grad_ratio"][0]
    assert ratios[0] < 1e-5 < ratios[8] and ratios[10] == 1.0  # shrinks towards the input
    assert found(monitor, "vanishing_gradient") == [i for i in range(11) if ratios[i] < 1e-3]
    assert 0 in found(monitor, "vanishing_gradient") and 9 not in found(monitor, "vanishing_gradient")
    assert {p.kind for p in monitor.problems} == {"vanishing_gradient"}
    problem = monitor.problems[0]
    assert problem.layer == (0, "Dense 16->32, sigmoid") and problem.epoch == 0
    assert str(problem).startswith(f"epoch 1: layer 0 (Dense 16->32, sigmoid): gradient norm is "
                                   f"{ratios[0]:.1g} of the output layer's: vanishing gradients; use ReLU")


def test_too_large_weights_give_exploding_gradients():
    model = xpnn.Model(*[xpnn.Dense(16 if i == 0 else 32, 32, activation="relu") for i in range(8)],
                       xpnn.Dense(32, 2))
    for layer in model.layers:  # 3 times He's scale: every layer multiplies the signal by about 3
        layer.weight.value = layer.weight.value * 3
    monitor, history = monitored_fit(model, optimizer=xpnn.SGD(lr=1e-9))
    norms = history.diagnostics["grad_norm"][0]
    assert found(monitor, "exploding_gradient") == [i for i in range(9) if norms[i] > 1e3] and min(norms) > 1e3
    # a gradient far larger than the output layer's, with a norm below exploding_norm
    model = xpnn.Model(xpnn.Dense(16, 32, activation="tanh"), xpnn.Dense(32, 2))
    model.layers[0].weight.value = model.layers[0].weight.value * 0.001
    model.layers[1].weight.value = model.layers[1].weight.value * 100
    monitor, history = monitored_fit(model, optimizer=xpnn.SGD(lr=1e-9), exploding_ratio=100)
    assert history.diagnostics["grad_ratio"][0][0] > 100 and found(monitor, "exploding_gradient") == [0]
    assert "times the output layer's: exploding gradients" in str(monitor.problems[0])


def test_a_large_negative_bias_kills_relu_units():
    model = xpnn.Model(xpnn.Dense(16, 32, activation="relu"), xpnn.Dense(32, 32, activation="relu"),
                       xpnn.Dense(32, 2))
    model.layers[1].bias.value = model.layers[1].bias.value - 10
    monitor, history = monitored_fit(model)
    dead = history.diagnostics["dead_fraction"][0]
    assert dead[1] == 1.0 and dead[0] < 0.5 and np.isnan(dead[2])
    assert found(monitor, "dead_units") == [1]
    assert {p.kind for p in monitor.problems} == {"dead_units"}  # not also "vanishing" below them
    assert "100% of its units output 0 on every sample of the epoch: dying ReLUs" in str(monitor.problems[0])


def test_dead_channels_of_a_convolution():
    model = xpnn.Model(xpnn.Conv2D(1, 4, 3, activation="relu", rng=0), xpnn.Flatten(), xpnn.Dense(64, 2, rng=1))
    bias = xpnn.to_numpy(model.layers[0].bias.value).copy()
    bias[:3] = -100.0  # three of the four channels never fire
    model.layers[0].bias.value = xpnn.asarray(bias)
    X = host_normal(16, 1, 6, 6).astype(np.float32)
    monitor = TrainingMonitor(verbose=0)
    history = model.fit(X, np.arange(16) % 2, loss="cross_entropy", optimizer="sgd", callbacks=[monitor],
                        verbose=0)
    assert history.diagnostics["dead_fraction"][0][0] == 0.75 and found(monitor, "dead_units") == [0]


def test_huge_weights_saturate_sigmoid_units():
    model = xpnn.Model(xpnn.Dense(16, 32, activation="sigmoid"), xpnn.Dense(32, 2))
    model.layers[0].weight.value = model.layers[0].weight.value * 20
    monitor, history = monitored_fit(model, every=1)
    assert history.diagnostics["saturated_fraction"][0][0] > 0.5 and found(monitor, "saturation") == [0]
    assert {p.kind for p in monitor.problems} == {"saturation"}


def test_warnings_are_raised_once_per_kind_and_layer_and_epoch_and_not_with_verbose_0():
    X, y = classes()

    def model():
        xpnn.set_seed(0)
        m = xpnn.Model(xpnn.Dense(16, 32, activation="sigmoid"), xpnn.Dense(32, 2))
        m.layers[0].weight.value = m.layers[0].weight.value * 20
        return m

    with pytest.warns(xpnn.TrainingHealthWarning) as caught:
        model().fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=3, callbacks=[TrainingMonitor()],
                    verbose=0)
    health = [w.message for w in caught if isinstance(w.message, xpnn.TrainingHealthWarning)]
    assert [(w.kind, w.layer.index, w.epoch) for w in health] == [("saturation", 0, 0)]  # said once a run
    assert str(health[0]).endswith("(said once a run; monitor.problems has every epoch's)")
    with pytest.warns(xpnn.TrainingHealthWarning) as caught:
        model().fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=3, verbose=0,
                    callbacks=[TrainingMonitor(repeat=True)])
    health = [w.message for w in caught if isinstance(w.message, xpnn.TrainingHealthWarning)]
    assert [(w.kind, w.layer.index, w.epoch) for w in health] == [("saturation", 0, e) for e in range(3)]
    assert issubclass(xpnn.TrainingHealthWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", xpnn.TrainingHealthWarning)
        silent = TrainingMonitor(verbose=0)
        history = model().fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=3, callbacks=[silent], verbose=0)
    assert len(silent.problems) == 3 and len(history.diagnostics["epoch"]) == 3


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_healthy_network_raises_no_warning(activation):
    X, y = classes()
    model = xpnn.Model(xpnn.Dense(16, 32, activation=activation), xpnn.Dense(32, 32, activation=activation),
                       xpnn.Dense(32, 2))
    monitor = TrainingMonitor(every=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", xpnn.TrainingHealthWarning)
        history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.01), epochs=3, batch_size=32,
                            callbacks=[monitor], validation_split=0.2, verbose=0)
    assert monitor.problems == [] and history.diagnostics["epoch"] == [0, 1, 2]
    assert not any("_forward_hooks" in vars(layer) for layer in model.layers)  # fit took its hooks off
    assert history.history["val_accuracy"][-1] > 0.8  # it really is healthy


# ---------------------------------------------------------------- the statistics themselves

def tiny_model():
    xpnn.set_seed(3)
    return xpnn.Model(xpnn.Dense(3, 4, activation="relu"), xpnn.Dense(4, 3, activation="sigmoid"),
                      xpnn.Dropout(0.25, seed=5), xpnn.Dense(3, 2)).astype("float64")


def tiny_batches(steps=3, batch=5):
    rng = np.random.default_rng(7)
    return [(rng.normal(size=(batch, 3)), rng.integers(0, 2, size=batch)) for _ in range(steps)]


def test_the_statistics_are_what_numpy_computes_from_the_steps(xp):
    model, loss, optimizer = tiny_model(), xpnn.CrossEntropy(), xpnn.SGD(lr=0.5, momentum=0.9)
    model.layers[0].bias.value = xpnn.asarray([0.0, 0.0, -50.0, 0.0], dtype="float64")  # one dead unit
    monitor = TrainingMonitor(model, every=1, saturation_threshold=0.9, verbose=0)
    grads, updates, outputs = [], [], [[] for _ in model.layers]
    for xb, yb in tiny_batches():
        xb, yb = xpnn.asarray(xb, dtype="float64"), xpnn.asarray(yb)
        before = [xpnn.to_numpy(p.value).copy() for p in model.parameters()]
        for index, out in enumerate(activations(model, xb, training=True)):  # the step's own masks
            outputs[index].append(xpnn.to_numpy(out))
        xpnn.train_step(model, loss, optimizer, xb, yb)
        monitor.observe_step()
        grads.append([xpnn.to_numpy(p.grad) for p in model.parameters()])
        updates.append([(xpnn.to_numpy(p.value) - b, b) for p, b in zip(model.parameters(), before)])
    stats = monitor.end_epoch()
    assert monitor.history["epoch"] == [0] and monitor.history["grad_norm"] == [stats["grad_norm"]]
    owners = [(0, 0), (0, 1), (1, 2), (1, 3), (3, 4), (3, 5)]  # (layer, parameter index)

    def per_layer(values, layer):
        return [v for (owner, k), v in zip(owners, values) if owner == layer]

    for layer in (0, 1, 3):
        norms = [np.sqrt(sum(np.sum(g ** 2) for g in per_layer(step, layer))) for step in grads]
        np.testing.assert_allclose(stats["grad_norm"][layer], np.mean(norms), rtol=1e-10)
        output_norms = [np.sqrt(sum(np.sum(g ** 2) for g in per_layer(step, 3))) for step in grads]
        np.testing.assert_allclose(stats["grad_ratio"][layer], np.mean(norms) / np.mean(output_norms), rtol=1e-10)
        ratios = [np.sqrt(sum(np.sum(d ** 2) for d, _ in per_layer(step, layer)))
                  / np.sqrt(sum(np.sum(b ** 2) for _, b in per_layer(step, layer))) for step in updates]
        np.testing.assert_allclose(stats["update_ratio"][layer], np.mean(ratios), rtol=1e-10)
    assert np.isnan(stats["grad_norm"][2]) and np.isnan(stats["update_ratio"][2])  # Dropout: no parameters
    for layer in range(4):
        every_output = np.concatenate([o.ravel() for o in outputs[layer]])
        np.testing.assert_allclose(stats["activation_mean"][layer], every_output.mean(), rtol=1e-10)
        np.testing.assert_allclose(stats["activation_std"][layer], every_output.std(), rtol=1e-10)
    relu = np.concatenate(outputs[0])
    assert stats["dead_fraction"][0] == np.mean(np.all(relu == 0, axis=0)) == 0.25
    a = np.concatenate([o.ravel() for o in outputs[1]])
    np.testing.assert_allclose(stats["saturated_fraction"][1], np.mean(a * (1 - a) < 0.9 * 0.25))
    assert 0 < stats["saturated_fraction"][1] < 1
    for name in ("dead_fraction", "saturated_fraction"):
        assert [np.isnan(v) for v in stats[name]] == [name != "dead_fraction", name != "saturated_fraction",
                                                       True, True]


def test_a_hand_written_loop_records_what_fit_records(xp):
    batches = tiny_batches(steps=4, batch=6)
    X = np.concatenate([x for x, _ in batches])
    y = np.concatenate([labels for _, labels in batches])
    fitted, by_hand = tiny_model(), tiny_model()
    history = fitted.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.05), epochs=2, batch_size=6,
                         shuffle=False, callbacks=[TrainingMonitor(every=2, verbose=0)], verbose=0)
    loss, optimizer = xpnn.CrossEntropy(), xpnn.Adam(lr=0.05)
    with TrainingMonitor(by_hand, every=2, verbose=0) as monitor:
        for epoch in range(2):
            for xb, yb in batches:
                xpnn.train_step(by_hand, loss, optimizer, xpnn.asarray(xb, dtype="float64"), xpnn.asarray(yb))
                monitor.observe_step()
            monitor.end_epoch()
    assert set(vars(by_hand.layers[0])) == set(vars(xpnn.Dense(1, 1)))  # the hooks are gone
    assert history.diagnostics.keys() == monitor.history.keys()
    assert history.diagnostics["layers"] == monitor.history["layers"] == layer_descriptions(by_hand)
    assert history.diagnostics["epoch"] == monitor.history["epoch"] == [0, 1]
    for name in xpnn.diagnostics.STATISTICS:
        np.testing.assert_allclose(history.diagnostics[name], monitor.history[name], rtol=1e-12, err_msg=name)


# ---------------------------------------------------------------- fit stops on NaN and inf

def diverging_setup():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    xpnn.set_seed(0)
    model = xpnn.Model(xpnn.Dense(3, 8, activation="relu"), xpnn.Dense(8, 8, activation="relu"), xpnn.Dense(8, 2))
    return model, X, (X[:, 0] > 0).astype(np.int64)


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_fit_stops_at_the_first_non_finite_step_with_the_weights_from_before_it(xp):
    model, X, y = diverging_setup()
    with pytest.warns(xpnn.TrainingHealthWarning) as caught:
        history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=1e10), epochs=50, batch_size=16,
                            shuffle=False, verbose=0)
    warning = next(w.message for w in caught if isinstance(w.message, xpnn.TrainingHealthWarning))
    assert (warning.kind, warning.epoch, warning.batch) == ("non_finite", 0, 2)
    assert warning.layer == (1, "Dense 8->8, relu")
    assert str(warning).startswith("non-finite values at epoch 1, batch 3: layer 1 (Dense 8->8, relu) output NaN "
                                   "or infinite values in the forward pass; the weights from before that step are "
                                   "restored (the epoch's batch losses before it went from ")
    # the two finite steps' losses, read in the replay: finite weights may already be far off
    assert "finite weights are not always sound ones); lower the learning rate" in str(warning)
    assert history.stop_reason == str(warning) and history.epoch == [0]  # the epoch's logs are kept
    assert not np.isfinite(history.history["loss"][0])
    # the same steps by hand: two finite steps, and the third makes layer 1's output non-finite
    by_hand, _, _ = diverging_setup()
    loss, optimizer = xpnn.CrossEntropy(), xpnn.SGD(lr=1e10)
    batches = [(xpnn.asarray(X[i:i + 16]), xpnn.asarray(y[i:i + 16])) for i in range(0, 64, 16)]
    for xb, yb in batches[:2]:
        xpnn.train_step(by_hand, loss, optimizer, xb, yb)
    for mine, theirs in zip(model.get_weights(), by_hand.get_weights()):
        assert np.all(np.isfinite(mine))
        np.testing.assert_array_equal(mine, theirs)
    outputs = activations(by_hand, batches[2][0], training=True)
    assert np.all(np.isfinite(xpnn.to_numpy(outputs[0]))) and not np.all(np.isfinite(xpnn.to_numpy(outputs[1])))
    assert model.optimizer.iterations == optimizer.iterations == 2  # its state is that of before the step


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_the_guard_names_the_loss_and_keeps_the_optimizer_state_of_the_last_finite_step(xp):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = (X @ np.array([[1.5], [-2.0], [0.5]]) * 1e3).astype(np.float32)
    xpnn.set_seed(0)
    model, optimizer = xpnn.Model(xpnn.Dense(3, 1)), xpnn.SGD(lr=3.0, momentum=0.9)
    with pytest.warns(xpnn.TrainingHealthWarning, match="the loss \\(MSE\\) was NaN or infinite") as caught:
        history = model.fit(X, y, loss="mse", optimizer=optimizer, epochs=20, batch_size=16, shuffle=False,
                            verbose=0)
    warning = next(w.message for w in caught if isinstance(w.message, xpnn.TrainingHealthWarning))
    assert warning.layer == (None, "the loss (MSE)") and history.stop_reason.startswith(
        f"non-finite values at epoch {warning.epoch + 1}, batch {warning.batch + 1}")
    steps = warning.epoch * 4 + warning.batch
    assert optimizer.iterations == steps and warning.epoch > 1  # the epochs' copies were reused
    xpnn.set_seed(0)
    by_hand, hand_optimizer = xpnn.Model(xpnn.Dense(3, 1)), xpnn.SGD(lr=3.0, momentum=0.9)
    for step in range(steps):
        i = 16 * (step % 4)
        xpnn.train_step(by_hand, xpnn.MSE(), hand_optimizer, xpnn.asarray(X[i:i + 16]), xpnn.asarray(y[i:i + 16]))
    for mine, theirs in zip(model.get_weights(), by_hand.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    saved, expected = optimizer.state_dict()["slots"], hand_optimizer.state_dict()["slots"]
    for mine, theirs in zip(saved, expected):
        assert mine.keys() == theirs.keys() == {"momentum_buffer"}
        np.testing.assert_array_equal(mine["momentum_buffer"], theirs["momentum_buffer"])


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_in_a_hand_written_loop_the_monitor_reports_non_finite_values():
    model, X, y = diverging_setup()
    loss, optimizer = xpnn.CrossEntropy(), xpnn.SGD(lr=1e10)
    with TrainingMonitor(model, every=1) as monitor:
        for i in range(0, 48, 16):  # the third step overflows layer 1's output (see the test above)
            xpnn.train_step(model, loss, optimizer, xpnn.asarray(X[i:i + 16]), xpnn.asarray(y[i:i + 16]))
            monitor.observe_step()
        with pytest.warns(xpnn.TrainingHealthWarning) as caught:
            monitor.end_epoch()
    assert [(p.kind, p.layer.index) for p in monitor.problems if p.kind == "non_finite"] == [("non_finite", 1)]
    assert "epoch 1: layer 1 (Dense 8->8, relu): NaN or infinite values in its outputs or gradients" in [
        str(w.message)[:87] for w in caught]
    assert len(caught) == len(monitor.problems)  # and exploding gradients, layer by layer


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_terminate_on_nan_false_trains_on_through_nan():
    model, X, y = diverging_setup()
    with warnings.catch_warnings():
        warnings.simplefilter("error", xpnn.TrainingHealthWarning)
        history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=1e10), epochs=3, batch_size=16,
                            shuffle=False, verbose=0, terminate_on_nan=False)
    assert history.stop_reason is None and history.epoch == [0, 1, 2]
    assert not np.all(np.isfinite(history.history["loss"]))  # it went on after the NaN
    with pytest.raises(TypeError, match="fit: terminate_on_nan must be"):
        model.fit(X, y, loss="cross_entropy", optimizer="sgd", terminate_on_nan="yes", verbose=0)


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_terminate_on_nan_callback_reports_the_guards_finding_and_stops_on_a_nan_validation_loss():
    model, X, y = diverging_setup()
    with pytest.warns(RuntimeWarning, match="TerminateOnNaN: loss=nan in epoch 1; training stopped: non-finite "
                                            "values at epoch 1, batch 3: layer 1") as caught:
        history = model.fit(X, y, loss="cross_entropy", optimizer=xpnn.SGD(lr=1e10), epochs=5, batch_size=16,
                            shuffle=False, verbose=0, terminate_on_nan=False, callbacks=[xpnn.TerminateOnNaN()])
    assert not any(isinstance(w.message, xpnn.TrainingHealthWarning) for w in caught)  # one report, not two
    assert history.stop_reason.startswith("TerminateOnNaN: loss=nan in epoch 1")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_the_scikit_learn_estimators_keep_scikit_learns_behaviour_on_divergence():
    from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor

    from xpnn.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) * 1e20
    arguments = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=10.0, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflows, and scikit-learn's convergence warning
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", xpnn.TrainingHealthWarning)
        for estimator in (SklearnMLPRegressor(**arguments), MLPRegressor(**arguments)):
            with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
                estimator.fit(X, y)


# ---------------------------------------------------------------- checkpoints

def resumable_run(tmp_path, epochs, resume=False):
    X = np.concatenate([x for x, _ in tiny_batches(steps=4, batch=6)])
    y = np.concatenate([labels for _, labels in tiny_batches(steps=4, batch=6)])
    model, path = tiny_model(), tmp_path / "run.ckpt"
    return model.fit(X, y, loss="cross_entropy", optimizer=xpnn.Adam(lr=0.05), epochs=epochs, batch_size=6,
                     seed=0, callbacks=[TrainingMonitor(every=2, verbose=0), xpnn.ModelCheckpoint(path)],
                     resume_from=path if resume else None, verbose=0)


def test_a_resumed_run_keeps_and_continues_history_diagnostics(xp, tmp_path):
    (tmp_path / "whole").mkdir()
    (tmp_path / "parts").mkdir()
    whole = resumable_run(tmp_path / "whole", 4)
    first = resumable_run(tmp_path / "parts", 2)
    assert first.diagnostics["epoch"] == [0, 1]
    resumed = resumable_run(tmp_path / "parts", 4, resume=True)
    assert resumed.diagnostics["epoch"] == [0, 1, 2, 3] and resumed.diagnostics["layers"] == whole.diagnostics["layers"]
    for name in xpnn.diagnostics.STATISTICS:
        np.testing.assert_allclose(resumed.diagnostics[name], whole.diagnostics[name], rtol=1e-12, err_msg=name)
    # a run without a monitor has none, and its checkpoint resumes as before
    plain = tiny_model().fit(np.zeros((4, 3)), np.arange(4) % 2, loss="cross_entropy", optimizer="sgd", verbose=0)
    assert plain.diagnostics == {}


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(grad_norm=[[1.0, "x", 2.0, 3.0]] * 2),
     "history: diagnostics: grad_norm: must hold, for each of the 2 epochs, one number per layer \\(4\\)"),
    (lambda d: d["dead_fraction"].pop(), "history: diagnostics: dead_fraction: must hold, for each of the 2 epochs"),
    (lambda d: d.pop("activation_std"), "history: diagnostics: must hold exactly .* it lacks activation_std"),
    (lambda d: d.update(layers="Dense"), "history: diagnostics: layers: must be a list of texts"),
    (lambda d: d.update(epoch=[0, -1]), "history: diagnostics: epoch: must be a list of ints >= 0"),
    (lambda d: d.update(extra=[]), "history: diagnostics: must hold exactly 'layers', 'epoch' and grad_norm"),
])
def test_a_corrupted_diagnostics_entry_is_named(tmp_path, change, message):
    from xpnn.training.checkpoint import CHECKPOINT_FORMAT, read_file, write_file

    resumable_run(tmp_path, 2)
    path = tmp_path / "run.ckpt"
    content = read_file(path, (CHECKPOINT_FORMAT,))
    change(content["history"]["diagnostics"])
    write_file(path, CHECKPOINT_FORMAT, content)
    with pytest.raises(ValueError, match=f"corrupted checkpoint: {message}"):
        resumable_run(tmp_path, 4, resume=True)
    for wrong in ("nothing", []):
        content["history"]["diagnostics"] = wrong
        write_file(path, CHECKPOINT_FORMAT, content)
        with pytest.raises(ValueError, match="corrupted checkpoint: history: diagnostics: must be a dict"):
            resumable_run(tmp_path, 4, resume=True)


# ---------------------------------------------------------------- arguments and hooks

@pytest.mark.parametrize("arguments, error, words", [
    ({"vanishing_ratio": 0}, ValueError, "TrainingMonitor: vanishing_ratio"),
    ({"vanishing_ratio": 1.5}, ValueError, "TrainingMonitor: vanishing_ratio"),
    ({"exploding_ratio": 0.5}, ValueError, "TrainingMonitor: exploding_ratio"),
    ({"exploding_norm": -1}, ValueError, "TrainingMonitor: exploding_norm"),
    ({"dead_fraction": 1}, ValueError, "TrainingMonitor: dead_fraction"),
    ({"saturation_fraction": "half"}, TypeError, "TrainingMonitor: saturation_fraction"),
    ({"saturation_threshold": 0}, ValueError, "TrainingMonitor: saturation_threshold"),
    ({"every": 0}, ValueError, "TrainingMonitor: every"),
    ({"every": 2.5}, ValueError, "TrainingMonitor: every must be a positive int"),
    ({"verbose": 2}, ValueError, "TrainingMonitor: verbose must be 0"),
    ({"model": "net"}, TypeError, "TrainingMonitor: model must be an xpnn Layer"),
])
def test_bad_monitor_arguments_are_named(arguments, error, words):
    with pytest.raises(error) as caught:
        TrainingMonitor(**arguments)
    assert words in str(caught.value)


def test_a_monitor_needs_a_model_and_watches_only_its_own():
    monitor = TrainingMonitor()
    with pytest.raises(RuntimeError, match="TrainingMonitor.observe_step: no model attached"):
        monitor.observe_step()
    with pytest.raises(RuntimeError, match="TrainingMonitor.end_epoch: no model attached"):
        monitor.end_epoch()
    watching = TrainingMonitor(xpnn.Model(xpnn.Dense(3, 2)))
    with pytest.raises(ValueError, match="TrainingMonitor.end_epoch: epoch must be"):
        watching.end_epoch(-1)
    other = xpnn.Model(xpnn.Dense(3, 2))
    with pytest.raises(ValueError, match="TrainingMonitor: it is attached to another model"):
        other.fit(np.zeros((4, 3)), np.arange(4) % 2, loss="cross_entropy", optimizer="sgd", callbacks=[watching],
                  verbose=0)


def test_forward_hooks_see_each_layer_and_leave_nothing_behind(xp):
    model = xpnn.Model(xpnn.Dense(3, 4, activation="relu", rng=0), xpnn.Dense(4, 2, rng=1))
    seen = []
    handle = model.layers[1].register_forward_hook(lambda layer, x, out, training: seen.append((layer, x, out, training)))
    x = xpnn.asarray(host_normal(5, 3), dtype="float32")
    out, _ = model.forward(x, training=True)
    predicted = model(x)
    assert [(s[0], s[3]) for s in seen] == [(model.layers[1], True), (model.layers[1], False)]
    assert_close(seen[0][1], model.layers[0](x)) and assert_close(seen[0][2], out)
    assert_close(seen[1][2], predicted)
    handle.remove()
    handle.remove()  # twice is harmless
    model(x)
    assert len(seen) == 2 and "_forward_hooks" not in vars(model.layers[1])
    with pytest.raises(TypeError, match="Dense.register_forward_hook: hook must be callable"):
        model.layers[0].register_forward_hook("print")


def test_a_monitor_on_a_bare_layer_records_gradients_and_update_ratios():
    layer = xpnn.Dense(3, 2, rng=0)
    X, y = host_normal(8, 3).astype(np.float32), np.arange(8) % 2
    monitor = TrainingMonitor(verbose=0, every=1)
    history = xpnn.training.fit(layer, X, y, loss="cross_entropy", optimizer="sgd", epochs=2, batch_size=4,
                                callbacks=[monitor], verbose=0)
    assert history.diagnostics["layers"] == ["Dense 3->2"]
    assert history.diagnostics["grad_ratio"] == [[1.0], [1.0]] and history.diagnostics["grad_norm"][0][0] > 0
    assert history.diagnostics["update_ratio"][1][0] > 0  # measured from the previous step's end
    assert np.isnan(history.diagnostics["activation_mean"][0][0])  # no hooks fire for a bare layer


def test_the_readme_example_runs_and_warns_as_its_comment_says():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    example = re.search(r"## Training health.*?```python\n(.*?)```", readme, re.S).group(1)
    namespace = {}
    with pytest.warns(xpnn.TrainingHealthWarning) as caught:
        exec(compile(example, "README.md, Training health", "exec"), namespace)
    assert str(caught[0].message) in example.replace("\n# ", " ")
    assert f"{namespace['ratios'][0]:.0e}" in example and len(namespace["outputs"]) == 11


def test_a_layer_used_at_two_positions_is_observed_at_each():
    shared = xpnn.Dense(4, 4, activation="tanh", rng=1)
    model = xpnn.Model(xpnn.Dense(3, 4, rng=0), shared, shared, xpnn.Dense(4, 2, rng=2)).astype("float64")
    X = host_normal(6, 3)
    expected = [xpnn.to_numpy(out) for out in activations(model, X)]
    with TrainingMonitor(model, every=1, verbose=0) as monitor:
        model.forward(xpnn.asarray(X, dtype="float64"), training=True)
        stats = monitor.end_epoch()
    np.testing.assert_allclose(stats["activation_mean"], [out.mean() for out in expected], rtol=1e-12)
    assert stats["activation_mean"][1] != stats["activation_mean"][2]


def test_copies_and_pickles_of_a_watched_model_carry_no_hooks():
    import copy
    import pickle

    model = xpnn.Model(xpnn.Dense(3, 4, activation="relu", rng=0), xpnn.Dense(4, 2, rng=1))
    with TrainingMonitor(model, every=1, verbose=0) as monitor:
        twin = copy.deepcopy(model)
        restored = pickle.loads(pickle.dumps(model))
        for other in (twin, restored):
            assert not any("_forward_hooks" in vars(layer) for layer in other.layers)
            other.forward(xpnn.asarray(host_normal(5, 3), dtype="float32"), training=True)
        assert monitor._act_sizes == [[], []]  # the copies' forwards were not recorded
        assert all("_forward_hooks" in vars(layer) for layer in model.layers)


def test_a_frozen_layer_has_no_gradient_statistics_and_raises_no_warning():
    X, y = classes(n=64, features=3)
    model = xpnn.Model(xpnn.Dense(3, 4, activation="relu"), xpnn.Dense(4, 2))
    model.layers[0].freeze()
    with warnings.catch_warnings():
        warnings.simplefilter("error", xpnn.TrainingHealthWarning)
        history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2,
                            callbacks=[TrainingMonitor(every=1)], verbose=0)
    assert np.isnan(history.diagnostics["grad_norm"][-1][0]) and history.diagnostics["grad_ratio"][-1][1] == 1.0
    assert history.diagnostics["update_ratio"][-1][0] == 0.0  # measured: the weights did not move


def test_a_hook_on_the_model_itself_is_not_pickled():
    import pickle

    model = xpnn.Model(xpnn.Dense(3, 2, rng=0))
    seen = []
    handle = model.register_forward_hook(lambda layer, x, out, training: seen.append(out))  # a closure: unpicklable
    restored = pickle.loads(pickle.dumps(model))
    assert "_forward_hooks" not in vars(restored) and "_forward_hooks" in vars(model)
    handle.remove()


class _Interrupt(xpnn.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_a_fit_that_ends_by_an_exception_takes_the_monitors_hooks_off(tmp_path):
    X, y = classes(n=32, features=3)
    model = xpnn.Model(xpnn.Dense(3, 4, activation="relu"), xpnn.Dense(4, 2))
    log = xpnn.CSVLogger(tmp_path / "log.csv")
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=2, verbose=0,
                  callbacks=[TrainingMonitor(verbose=0), log, _Interrupt()])
    assert not any("_forward_hooks" in vars(layer) for layer in model.walk())
    assert log._file is None  # the log file is closed too


def test_a_monitor_fit_attached_is_free_for_another_model_afterwards():
    X, y = classes(n=32, features=4)
    monitor = TrainingMonitor(verbose=0)
    for width in (8, 16):
        model = xpnn.Model(xpnn.Dense(4, width, activation="relu"), xpnn.Dense(width, 2))
        history = model.fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=1, verbose=0,
                            callbacks=[monitor])
        assert history.diagnostics["layers"][0] == f"Dense 4->{width}, relu"
        assert not any("_forward_hooks" in vars(layer) for layer in model.walk())


def test_a_diverging_run_is_not_diagnosed_as_vanishing_gradients():
    # the new-user trial: finite over an infinite output-layer norm gave "gradient norm is 0 of
    # the output layer's: vanishing gradients; use ReLU" on a ReLU layer
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 4))
    y = (X @ np.array([1.0, 2.0, 3.0, 4.0]))[:, None]
    xpnn.set_seed(0)
    model = xpnn.Model(xpnn.Dense(4, 16, activation="relu"), xpnn.Dense(16, 1))
    monitor = TrainingMonitor(verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y, loss="mse", optimizer=xpnn.SGD(lr=1e3), epochs=5, batch_size=32, verbose=0,
                  callbacks=[monitor])
    assert monitor.history["grad_norm"][0][1] == math.inf  # the output layer's
    kinds = {warning.kind for warning in monitor.problems}
    assert "vanishing_gradient" not in kinds and "exploding_gradient" in kinds
