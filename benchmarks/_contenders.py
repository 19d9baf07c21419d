"""Every implementation the benchmark times, behind one interface, and which are usable here.

An implementation is built from ``(workload, host_batches, device)``; it moves the batches to
its device once, then ``run(steps)`` trains ``steps`` steps (cycling through the batches),
waits for the device, and returns the number of steps it actually did. ``label`` names its
row and ``memory_kind`` says which memory meter reads it ("array" or "torch").

``CONTENDERS`` maps the names ``--peers`` accepts to a class and the import that must work
for it; a missing library makes that row say "not installed" instead of stopping the run.
"""

from __future__ import annotations

import importlib
import math
import warnings

import numpy

from _handwritten import GemmRoofline, HandwrittenStep
from _workloads import SEED

LR = 1e-3


# ---------------------------------------------------------------- xpnn

def xpnn_model(workload):
    import xpnn

    last = len(workload.layers) - 1
    return xpnn.Model(*(xpnn.Dense(a, b, activation="relu" if i < last else None)
                        for i, (a, b) in enumerate(workload.layers)))


class XpnnStep:
    """xpnn's real training step, called directly in a loop over pre-made device batches.

    Each step is ``xpnn.training.train_step``, the function ``Model.fit`` calls per batch, without
    fit's own bookkeeping (the running loss sum, metrics, callbacks): forward(training=True),
    the loss's forward, zero_grad of the parameters, backward for the parameter gradients alone
    (the data needs no gradient, so the first layer computes no dx), optimizer.step. Like fit,
    the loss has ``validate=False``: fit checks the labels once before the first step and then
    steps with ``loss.unchecked()``, because the label check reads a value back from the device.
    """

    label = "xpnn step"
    memory_kind = "array"

    def __init__(self, workload, host_batches, device):
        import xpnn

        self.device = device
        with xpnn.use_backend(device.backend):  # where new arrays (the parameters) are made
            xpnn.set_seed(SEED)
            self.model = xpnn_model(workload)
            self.batches = [(xpnn.asarray(x), xpnn.asarray(y)) for x, y in host_batches]
        self.loss = xpnn.CrossEntropy(validate=False)
        self.optimizer = xpnn.Adam(lr=LR)
        self.params = self.model.parameters()

    def run(self, steps: int) -> int:
        from xpnn.training import train_step

        model, loss, optimizer, params, batches = (
            self.model, self.loss, self.optimizer, self.params, self.batches)
        for i in range(steps):
            xb, yb = batches[i % len(batches)]
            train_step(model, loss, optimizer, xb, yb, params)
        self.device.sync()
        return steps


class XpnnFit:
    """``Model.fit`` itself: one call per timed block, one epoch of ``steps`` batches of
    on-device data, ``verbose=0`` and everything else at its default (shuffled every epoch,
    accuracy metric, fit's argument and data checks). Against ``XpnnStep`` this is the cost
    of fit's loop. Its data grows with ``steps``, so it gets no memory figure."""

    label = "xpnn fit"
    memory_kind = None

    def __init__(self, workload, host_batches, device):
        import xpnn

        self.device, self.workload, self.host_batches = device, workload, host_batches
        self.backend = device.backend
        with xpnn.use_backend(self.backend):
            xpnn.set_seed(SEED)
            self.model = xpnn_model(workload)
        self.optimizer = xpnn.Adam(lr=LR)
        self.data = {}  # steps -> (X, y) on the device, made once per block length

    def _epoch_data(self, steps):
        if steps not in self.data:
            import xpnn

            picks = [self.host_batches[i % len(self.host_batches)] for i in range(steps)]
            with xpnn.use_backend(self.backend):
                self.data[steps] = (xpnn.asarray(numpy.concatenate([x for x, _ in picks])),
                                    xpnn.asarray(numpy.concatenate([y for _, y in picks])))
        return self.data[steps]

    def run(self, steps: int) -> int:
        X, y = self._epoch_data(steps)
        self.model.fit(X, y, loss="cross_entropy", optimizer=self.optimizer, epochs=1,
                       batch_size=self.workload.batch, verbose=0, seed=SEED)
        self.device.sync()
        return steps


# ---------------------------------------------------------------- PyTorch

class TorchEager:
    """PyTorch eager: nn.Linear/ReLU, F.cross_entropy, Adam. On CUDA ``Adam(fused=True)``
    (its fastest eager optimizer); on the CPU plain ``Adam`` as issue 5 asks. TF32 is
    switched off: every row computes in strict float32."""

    label = "torch"
    memory_kind = "torch"

    def __init__(self, workload, host_batches, device):
        import torch

        self.torch = torch
        self.device = torch.device(device.torch_device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            torch.backends.cuda.matmul.allow_tf32 = False
        torch.manual_seed(SEED)
        layers = []
        for i, (a, b) in enumerate(workload.layers):
            layers.append(torch.nn.Linear(a, b))
            if i < len(workload.layers) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR,
                                          **({"fused": True} if self.cuda else {}))
        self.batches = [(torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device))
                        for x, y in host_batches]

    def run(self, steps: int) -> int:
        F, model, optimizer, batches = self.torch.nn.functional, self.model, self.optimizer, self.batches
        for i in range(steps):
            xb, yb = batches[i % len(batches)]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        if self.cuda:
            self.torch.cuda.synchronize()
        return steps


# ---------------------------------------------------------------- scikit-learn

def _mlp_classifier(workload, **overrides):
    from sklearn.neural_network import MLPClassifier

    settings = dict(
        hidden_layer_sizes=workload.hidden, activation="relu", solver="adam",
        learning_rate_init=LR, batch_size=workload.batch,
        alpha=0.0,  # no L2 penalty: the others have none (scikit-learn's default is 1e-4)
        shuffle=False,  # the batches are pre-made, as for everyone else
        random_state=SEED,
    )
    settings.update(overrides)
    return MLPClassifier(**settings)


class SklearnFit:
    """scikit-learn's own mini-batch loop: ``fit`` with ``warm_start=True`` and
    ``max_iter`` epochs over the pre-made batches, so one timed block is one ``fit`` call and
    its input validation is paid once per block, like xpnn's step loop pays none. The
    convergence test is switched off (``n_iter_no_change`` huge) so every epoch runs; a block
    rounds ``steps`` up to whole epochs of 4 batches. CPU only, float32 kept throughout."""

    label = "sklearn"
    memory_kind = "array"

    def __init__(self, workload, host_batches, device):
        if device.on_gpu:
            raise Unavailable("CPU only, not run on the GPU backend")
        self.X = numpy.concatenate([x for x, _ in host_batches])
        self.y = numpy.concatenate([y for _, y in host_batches])
        self.batches = len(host_batches)
        self.model = _mlp_classifier(workload, warm_start=True, tol=0.0, n_iter_no_change=2**31 - 1)

    def run(self, steps: int) -> int:
        from sklearn.exceptions import ConvergenceWarning

        epochs = math.ceil(steps / self.batches)
        self.model.max_iter = epochs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is reached on purpose
            self.model.fit(self.X, self.y)
        return epochs * self.batches


class SklearnPartialFit:
    """``partial_fit`` on one batch per step: one Adam step per call, each call validating its
    input and labels again. Not in the default peers; it shows what that per-call cost is."""

    label = "sklearn partial_fit"
    memory_kind = "array"

    def __init__(self, workload, host_batches, device):
        if device.on_gpu:
            raise Unavailable("CPU only, not run on the GPU backend")
        self.batches = host_batches
        self.classes = numpy.arange(workload.widths[-1])
        self.model = _mlp_classifier(workload)

    def run(self, steps: int) -> int:
        model, batches, classes = self.model, self.batches, self.classes
        for i in range(steps):
            x, y = batches[i % len(batches)]
            model.partial_fit(x, y, classes=classes)
        return steps


# ---------------------------------------------------------------- the registry

class Unavailable(Exception):
    """This implementation cannot run in this configuration; the message says why."""


CONTENDERS = {  # name -> (class, module that must import); the reference "xpnn" always runs
    "xpnn": (XpnnStep, "xpnn"),
    "fit": (XpnnFit, "xpnn"),
    "torch": (TorchEager, "torch"),
    "sklearn": (SklearnFit, "sklearn"),
    "sklearn-partial": (SklearnPartialFit, "sklearn"),
    "handwritten": (HandwrittenStep, None),
    "gemm": (GemmRoofline, None),
}
DEFAULT_PEERS = ("fit", "torch", "sklearn", "handwritten", "gemm")


def missing_library(name: str):
    """None when the library behind ``name`` imports, else a line such as "not installed"."""
    module = CONTENDERS[name][1]
    if module is None:
        return None
    try:
        importlib.import_module(module)
    except ImportError as error:
        return f"not installed ({error})"
    return None


def version_of(module: str) -> str:
    try:
        return importlib.import_module(module).__version__
    except Exception:
        return "not installed"
