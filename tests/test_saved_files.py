"""Files saved by xpnn 0.1.0 before the package was split into floors (tests/fixtures/, written
at 858d35a by make_v0_1_files.py) still load, predict the same and resume bit for bit."""

import os
import shutil

import numpy as np

import xpnn
from xpnn.testing import assert_close

from .fixtures import make_v0_1_files as v0_1

FIXTURES = os.path.dirname(v0_1.__file__)
EXPECTED = dict(np.load(os.path.join(FIXTURES, "v0_1_expected.npz")))


def test_a_saved_model_loads_and_predicts_as_before(xp):
    model = xpnn.load(os.path.join(FIXTURES, "v0_1_model.xpnn"))
    assert_close(model.predict(EXPECTED["X"]), EXPECTED["predictions"], rtol=1e-6)


def test_a_saved_model_loads_its_weights_into_a_fresh_model(xp):
    model = v0_1.make_model().load_weights(os.path.join(FIXTURES, "v0_1_model.xpnn"))
    assert_close(model.predict(EXPECTED["X"]), EXPECTED["predictions"], rtol=1e-6)


def test_a_saved_checkpoint_resumes_bit_for_bit(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    shutil.copyfile(os.path.join(FIXTURES, "v0_1_run.ckpt"), checkpoint)  # fit rewrites it
    model = v0_1.make_model()
    history = model.fit(EXPECTED["X"], EXPECTED["y"], optimizer=v0_1.optimizer(), epochs=6,
                        callbacks=v0_1.callbacks(str(checkpoint)), resume_from=str(checkpoint),
                        **v0_1.SETTINGS)
    assert history.epoch == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(history.history["val_loss"], EXPECTED["val_loss"])
    state = dict(model.named_state())
    assert sorted(f"resumed/{name}" for name in state) == sorted(k for k in EXPECTED if k.startswith("resumed/"))
    for name, held in state.items():
        np.testing.assert_array_equal(xpnn.to_numpy(held.value), EXPECTED[f"resumed/{name}"], err_msg=name)


def test_a_saved_checkpoint_resumes_on_every_backend(xp, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    shutil.copyfile(os.path.join(FIXTURES, "v0_1_run.ckpt"), checkpoint)
    model = v0_1.make_model()
    model.fit(EXPECTED["X"], EXPECTED["y"], optimizer=v0_1.optimizer(), epochs=6,
              callbacks=v0_1.callbacks(str(checkpoint)), resume_from=str(checkpoint), **v0_1.SETTINGS)
    for name, held in model.named_state():
        assert_close(held.value, EXPECTED[f"resumed/{name}"], rtol=1e-5, name=name)
