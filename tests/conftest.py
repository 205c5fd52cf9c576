"""Shared fixtures: the real FSDD copy, small real corpora, isolated caches and results."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402

import data_generator  # noqa: E402
import fsdd  # noqa: E402
import plumbing  # noqa: E402
import digit_corpus as digit_corpus_module  # noqa: E402

# Plots in tests need no screen; set here, not in the environment, which the notebooks
# tested by nbval inherit (they keep their inline backend).
matplotlib.use("Agg")


@pytest.fixture(scope="session")
def fsdd_dir():
    """FSDD's recordings folder ($FSDD_DIR or a previous download), checked."""
    try:
        return fsdd.find_fsdd(download=False)
    except FileNotFoundError as error:
        pytest.fail(f"{error} The tests need FSDD (CI sets FSDD_DIR).")


@pytest.fixture(scope="session")
def digit_corpus(fsdd_dir, tmp_path_factory):
    """A small real digit corpus: ``(train_json, valid_json, test_json)`` of 60, 16 and 16
    strings, paused and connected."""
    out = tmp_path_factory.mktemp("digits") / "corpus"
    return digit_corpus_module.build_digit_corpus(fsdd_dir, out, train_size=60, valid_size=16,
                                                  test_size=16, seed=3)


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    """Feature caches and results of each test go to its own temporary folder."""
    monkeypatch.setattr(plumbing, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(plumbing, "RESULTS_DIR", tmp_path / "results")
    data_generator._memory_cache.clear()
    return tmp_path


def write_tone(path, seconds=1.0, rate=16000, channels=1, frequency=440.0, subtype="PCM_16"):
    """Write a sine tone; returns the mono samples written (before quantisation)."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * frequency * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    soundfile.write(path, data, rate, subtype=subtype)
    return tone
