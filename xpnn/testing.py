"""Checks for anything differentiable: finite-difference gradients and cross-backend agreement.

Public on purpose: users writing their own layers run the same checks as the library's tests.
"""

from __future__ import annotations

from . import backend
from .backend import asarray, asarray_like, dtype_name, namespace_of, to_numpy
from .nn.layer import Layer
from .nn.losses import Loss
from .nn.parameter import Parameter

# Relative agreement expected between two correct implementations, by dtype.
DEFAULT_RTOL = {"float64": 1e-10, "float32": 1e-5}


class GradcheckError(AssertionError):
    """Analytic and finite-difference gradients disagree; the message names the worst element."""


def _unravel(flat_index: int, shape: tuple) -> tuple:
    index = []
    for size in reversed(shape):
        flat_index, rest = divmod(flat_index, size)
        index.append(rest)
    return tuple(reversed(index))


def _worst(actual, desired, rtol, atol):
    """(ratio of error to allowance, flat index) of the element furthest outside tolerance."""
    host = backend.host_namespace()
    error = host.abs(host.astype(actual, host.float64) - host.astype(desired, host.float64))
    allowed = atol + rtol * host.abs(host.astype(desired, host.float64))
    ratio = host.reshape(error / host.maximum(allowed, 1e-300), (-1,))
    index = int(host.argmax(ratio)) if ratio.size else 0
    return (float(ratio[index]) if ratio.size else 0.0), index


def assert_close(actual, desired, *, rtol=None, atol=None, name="array"):
    """Arrays from any backends agree: |actual - desired| <= atol + rtol |desired| everywhere.

    ``rtol`` defaults by dtype (1e-10 for float64, 1e-5 for float32); ``atol`` defaults to
    rtol times the largest |desired|, i.e. agreement relative to the array's own scale.
    """
    actual_host, desired_host = to_numpy(actual), to_numpy(desired)
    if tuple(actual_host.shape) != tuple(desired_host.shape):
        raise AssertionError(
            f"{name}: shapes differ: {tuple(actual_host.shape)} vs {tuple(desired_host.shape)}"
        )
    if rtol is None:
        rtol = max(DEFAULT_RTOL.get(dtype_name(actual_host.dtype), 0.0),
                   DEFAULT_RTOL.get(dtype_name(desired_host.dtype), 0.0))
    if atol is None:
        atol = rtol * float(abs(desired_host).max()) if desired_host.size else 0.0
    ratio, index = _worst(actual_host, desired_host, rtol, atol)
    if not ratio <= 1.0:  # also catches NaN
        at = _unravel(index, tuple(desired_host.shape))
        a, d = actual_host.reshape(-1)[index], desired_host.reshape(-1)[index]
        raise AssertionError(
            f"{name}: mismatch at index {at}: {a!r} vs expected {d!r} "
            f"(|diff| {abs(float(a) - float(d)):.3e}, allowed rtol={rtol:g}, atol={atol:.3e})"
        )


def _as_float64(x):
    xp = namespace_of(input=x)
    return xp.astype(x, xp.float64) if xp.isdtype(x.dtype, "real floating") else x


def gradcheck(target, *inputs, eps=1e-6, rtol=1e-5, atol=1e-8, seed=0, training=True):
    """Compare analytic gradients with central finite differences, in float64.

    ``target`` is a Layer (``inputs`` = x; checks dL/dx and every trainable parameter's
    gradient for L = sum(out * g), g a fixed random array) or a Loss (``inputs`` = pred,
    target; checks d value / d pred). Parameters and buffers are cast to float64 for the
    check and restored afterwards, with their gradients and running statistics. Raises GradcheckError naming the worst
    element; returns True when everything agrees within atol + rtol |numeric|.
    """
    if not isinstance(target, (Layer, Loss)):
        raise TypeError(f"gradcheck: target must be an xpnn Layer or Loss, got {type(target).__name__}")
    expected_inputs = 2 if isinstance(target, Loss) else 1
    if len(inputs) != expected_inputs:
        raise TypeError(
            f"gradcheck: {type(target).__name__} takes {expected_inputs} input(s), got {len(inputs)}"
        )
    inputs = [_as_float64(x) for x in inputs]
    # buffers too: BatchNorm's running statistics must meet float64 inputs, and every
    # training forward of the check moves them, so they are put back afterwards
    held = [h for _, h in target.named_state()] if isinstance(target, Layer) else []
    saved = [(h.value, getattr(h, "grad", None)) for h in held]
    try:
        for h in held:
            h.value = _as_float64(h.value)
            if isinstance(h, Parameter):
                h.grad = None
        _run_gradcheck(target, inputs, eps, rtol, atol, seed, training)
    finally:
        for h, (value, grad) in zip(held, saved):
            h.value = value
            if isinstance(h, Parameter):
                h.grad = grad
    return True


class _InputSlot:
    """Lets an input be perturbed through ``.value``, like a Parameter."""

    def __init__(self, inputs: list, index: int):
        self.inputs, self.index = inputs, index

    @property
    def value(self):
        return self.inputs[self.index]

    @value.setter
    def value(self, new):
        self.inputs[self.index] = new


def _run_gradcheck(target, inputs, eps, rtol, atol, seed, training):
    if isinstance(target, Loss):
        analytic = {"pred": target.forward(*inputs)[1]()}
        slots = {"pred": _InputSlot(inputs, 0)}

        def objective():
            return float(target.forward(*inputs)[0])
    else:
        out, backward = target.forward(inputs[0], training)
        xp = namespace_of(out=out)
        probe = asarray_like(backend.rng(seed).standard_normal(size=tuple(out.shape)), out)
        analytic = {"x": backward(probe)}
        slots = {"x": _InputSlot(inputs, 0)}
        for name, p in target.named_parameters():
            if p.trainable:
                analytic[name], slots[name] = p.grad, p

        def objective():
            return float(xp.sum(target.forward(inputs[0], training)[0] * probe))

    for name, slot in slots.items():
        if analytic[name] is None:
            raise GradcheckError(f"gradient of {name} was never computed by backward")
        numeric = _finite_differences(objective, slot, eps)
        analytic_host = to_numpy(analytic[name]).reshape(-1)
        ratio, index = _worst(analytic_host, numeric, rtol, atol)
        if not ratio <= 1.0:
            at = _unravel(index, tuple(slot.value.shape))
            a, n = float(analytic_host[index]), float(numeric[index])
            raise GradcheckError(
                f"gradcheck of {type(target).__name__}: gradient of {name} at index {at}: "
                f"analytic {a!r}, numeric {n!r} "
                f"(|diff| {abs(a - n):.3e} > atol {atol:g} + rtol {rtol:g} x |numeric|)"
            )


def _finite_differences(objective, slot, eps):
    """Central differences of ``objective`` for every element of ``slot.value`` (flattened)."""
    original = slot.value
    host = to_numpy(original).copy()
    flat = host.reshape(-1)
    numeric = flat.copy()
    try:
        for i in range(flat.size):
            centre = flat[i]
            flat[i] = centre + eps
            slot.value = asarray_like(host, original)
            above = objective()
            flat[i] = centre - eps
            slot.value = asarray_like(host, original)
            below = objective()
            flat[i] = centre
            numeric[i] = (above - below) / (2.0 * eps)
    finally:
        slot.value = original
    return numeric


def elementwise_tolerance(x, value, slope, *, computed=None, dtype="float32", ulps=4):
    """How far apart two correct implementations of an elementwise function f may be at ``x``
    when they compute in ``dtype``, element by element:
    ``eps ulps (|f(x)| + |x f'(x)|) + 2 |computed - f(x)|``.

    - ``eps ulps |f(x)|``: each library rounds its transcendental functions its own way: CUDA's
      single-precision exp, log, tanh and erf are within 2 units in the last place (the CUDA C
      Programming Guide's table of maximum ulp errors), NumPy's within 1-4 depending on the
      build, so two of them may differ by ``ulps`` (4 by default).
    - ``eps ulps |x f'(x)|``: the condition number of f at x (|x f'(x) / f(x)|) times |f(x)|:
      what such a difference in an intermediate, a relative change of its input, does to f.
    - ``2 |computed - f(x)|``: the formula's own error in ``dtype``, where it cancels (a(1 - a)
      for a sigmoid near 1, 1 + erf(z) for a GELU far left): ``computed`` is one
      implementation's ``dtype`` result (NumPy's), measured against the float64 reference, and
      the other may be as far off on the other side. Left out when ``computed`` is None.

    ``x``, ``value`` = f(x) and ``slope`` = f'(x) are float64 arrays of any backend (the
    reference, computed in float64); the result is a host float64 array. For a derivative,
    pass f' as ``value`` and f'' as ``slope``.
    """
    host = backend.host_namespace()
    finfo = host.finfo(backend.resolve_dtype(host, dtype))
    x, value, slope = (host.astype(host.asarray(to_numpy(a)), host.float64) for a in (x, value, slope))
    allowed = finfo.eps * ulps * (host.abs(value) + host.abs(x * slope)) + finfo.smallest_normal
    if computed is not None:
        allowed = allowed + 2.0 * host.abs(host.astype(host.asarray(to_numpy(computed)), host.float64) - value)
    return allowed


def check_backends(make, *inputs, loss=None, backends=None, seed=0, dtype="float64",
                   rtol=None, atol=None):
    """Build ``make()`` on NumPy and on each other backend from the same seed, run forward and
    backward on the same inputs, and assert outputs and every gradient agree.

    ``make`` returns a Layer (``inputs`` = x) or a Loss (``inputs`` = pred, target). With a
    Layer and ``loss`` (a Loss), ``inputs`` = x, target and the backward starts from the
    loss's gradient, so parameter gradients of a whole training step are compared; otherwise
    it starts from a fixed random array. Host inputs are moved to each backend, floating ones
    cast to ``dtype``. ``backends`` defaults to every usable backend. Tolerances default by
    dtype (1e-10 relative for float64, 1e-5 for float32, relative to each array's scale).
    Returns the backends that were compared with NumPy.
    """
    usable = [name for name, (ok, _) in backend.available_backends().items() if ok]
    others = [b for b in (backends or usable) if b != "numpy"]
    missing = [b for b in others if b not in usable]
    if missing:
        raise backend.BackendError(f"check_backends: backend(s) {missing} not usable here; "
                                   f"usable: {usable}")
    reference = _run_on("numpy", make, inputs, loss, seed, dtype)
    for other in others:
        results = _run_on(other, make, inputs, loss, seed, dtype)
        for quantity, desired in reference.items():
            assert_close(results[quantity], desired, rtol=rtol, atol=atol,
                         name=f"{other} vs numpy, {quantity}")
    return others


def _run_on(backend_name, make, inputs, loss, seed, dtype):
    with backend.use_backend(backend_name), backend.seeded(seed):
        thing = make()
        if isinstance(thing, Layer):
            thing.astype(dtype)
        moved = []
        for x in inputs:
            host = to_numpy(x)
            floating = host.dtype.kind == "f"
            moved.append(asarray(host, dtype=dtype if floating else None))
        if isinstance(thing, Loss):
            value, backward = thing.forward(*moved)
            return {"loss value": to_numpy(value), "d loss / d pred": to_numpy(backward())}
        out, backward = thing.forward(moved[0], True)
        results = {"output": to_numpy(out)}
        if loss is not None:
            value, loss_backward = loss.forward(out, moved[1])
            results["loss value"] = to_numpy(value)
            dout = loss_backward()
        else:
            probe = backend.rng(seed + 1).standard_normal(size=tuple(out.shape))
            dout = asarray(probe, dtype=dtype)
        results["input gradient"] = to_numpy(backward(dout))
        for name, p in thing.named_parameters():
            if p.grad is not None:
                results[f"gradient of {name}"] = to_numpy(p.grad)
        return results
