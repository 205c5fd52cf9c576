"""Training on several devices and in mixed precision.

Under a distribution strategy the same batches give the same losses.

TensorFlow sets up its devices once per process, so the check runs in a process of
its own that splits the CPU into two logical devices, trains a small model with
``train_model(strategy=MirroredStrategy(both))`` on batches of 4 per replica, and
trains it again on one device (``OneDeviceStrategy``) on the same batches of 8.
"""

import json
import subprocess
import sys

import pytest

from plumbing import PROJECT_DIR

SCRIPT = """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from pathlib import Path
import plumbing, sample_models, train_utils
from trained_models import read_history
out, train_json, valid_json = map(Path, sys.argv[1:4])
plumbing.RESULTS_DIR, plumbing.CACHE_DIR = out / "results", out / "cache"
runs = {"two devices": (tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), 4),
        "one device": (tf.distribute.OneDeviceStrategy("/cpu:0"), 8)}
found = {}
for name, (strategy, batch) in runs.items():
    keras.utils.set_random_seed(0)
    model = sample_models.bidirectional_rnn_model(81, 16)  # no batch statistics per replica
    history = train_utils.train_model(model, f"{name}.pickle", f"{name}.weights.h5", train_json,
                                      valid_json, minibatch_size=batch, epochs=2, verbose=0,
                                      jit_compile=False, strategy=strategy,
                                      optimizer=keras.optimizers.Adam(1e-3))
    saved = read_history(plumbing.RESULTS_DIR / f"{name}.pickle")
    found[name] = {"loss": history["loss"], "val_loss": history["val_loss"],
                   "replicas": saved["record"]["replicas"],
                   "weights": float(sum(abs(w).sum() for w in model.get_weights()))}
print(json.dumps(found))
"""


def test_two_devices_train_as_one_on_the_same_batches(digit_corpus, tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), *map(str, digit_corpus[:2])],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    two, one = runs["two devices"], runs["one device"]
    assert (two["replicas"], one["replicas"]) == (2, 1)
    for key in ("loss", "val_loss"):
        assert len(two[key]) == len(one[key]) == 2
        for a, b in zip(two[key], one[key]):
            assert abs(a - b) <= 1e-4 * abs(b), (key, two[key], one[key])
    # the model the caller holds was given the kept weights of the distributed run
    assert abs(two["weights"] - one["weights"]) <= 1e-4 * one["weights"]


def test_mixed_precision_trains_in_float16_with_float32_probabilities_and_loss(digit_corpus,
                                                                              tmp_path, monkeypatch):
    import keras
    import numpy as np

    import plumbing
    import sample_models
    import train_utils
    from ctc import add_ctc_loss
    from data_generator import AudioGenerator
    from trained_models import read_history

    monkeypatch.setattr(plumbing, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(plumbing, "CACHE_DIR", tmp_path / "cache")
    keras.utils.set_random_seed(0)
    model = sample_models.cnn_rnn_model(81, 32, 11, 2, "valid", 32)
    history = train_utils.train_model(model, "mixed.pickle", "mixed.weights.h5",
                                      *digit_corpus[:2], minibatch_size=8, epochs=2, verbose=0,
                                      jit_compile=False, precision="mixed_float16",
                                      optimizer=keras.optimizers.Adam(1e-3))
    record = read_history(plumbing.RESULTS_DIR / "mixed.pickle")["record"]
    assert record["precision"] == "mixed_float16" and record["replicas"] == 1
    assert keras.config.dtype_policy().name == "float32"  # the policy is put back
    assert all(np.isfinite(history["loss"])) and history["loss"][1] < history["loss"][0]
    assert all(w.dtype == np.float32 for w in model.get_weights())  # the kept weights

    # The same weights give the same CTC loss in both policies: float16 layers, float32 loss.
    with train_utils.dtype_policy("mixed_float16"):
        mixed = sample_models.cnn_rnn_model(81, 32, 11, 2, "valid", 32)
        mixed_ctc = add_ctc_loss(mixed)
    mixed.set_weights(model.get_weights())
    assert mixed.get_layer("rnn").dtype_policy.compute_dtype == "float16"
    assert mixed.get_layer("softmax").dtype_policy.compute_dtype == "float32"
    inputs, _ = AudioGenerator(*digit_corpus[:2], minibatch_size=8).train_batches()[0]
    single_loss = np.asarray(add_ctc_loss(model)(inputs))
    mixed_loss = np.asarray(mixed_ctc(inputs))
    assert mixed_loss.dtype == np.float32 and np.isfinite(mixed_loss).all()
    np.testing.assert_allclose(mixed_loss, single_loss, rtol=0.02)
    with pytest.raises(ValueError, match="precision must be one of float32, mixed_float16"):
        train_utils.train_model(model, "x.pickle", "x.weights.h5", *digit_corpus[:2],
                                precision="float16")
