"""Issue 35, reliability second pass: no lost epochs or weights, no silent wrong transcripts,
one clear line for every command's bad input. Each test fails against the behaviour before."""

import functools
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import re
import time
import types

import keras
import numpy as np
import pytest
import soundfile

import ctc
import data_generator
import decoding
import digit_corpus
import plumbing
import run_notebooks
import sample_models
import train_utils
import trained_models
import transcribe
import utils
from beam_search import LexiconBeamSearch
from digit_corpus import DIGIT_WORDS, build_digit_corpus
from fsdd import parse_fsdd_name
from plumbing import PROJECT_DIR

COMMANDS = {"prepare_data", "train", "transcribe", "run_notebooks", "make_exercises"}


def build_model(seed=0, input_dim=13):
    """A tiny Model 2 ('valid' convolution of 11 frames, stride 2): too short a clip has no
    output frame at all."""
    keras.utils.set_random_seed(seed)
    return sample_models.cnn_rnn_model(input_dim, 16, 11, 2, "valid", 16)


def train(corpus, epochs, name="run", seed=0, **settings):
    """Train a new tiny model on MFCC features as ``results/<name>.*``; returns its history."""
    return train_utils.train_model(build_model(seed), f"{name}.pickle", f"{name}.weights.h5",
                                   corpus[0], corpus[1], spectrogram=False, epochs=epochs,
                                   verbose=0, jit_compile=False,
                                   optimizer=keras.optimizers.Adam(1e-3), **settings)


@pytest.fixture(scope="module")
def trained(digit_corpus, tmp_path_factory):
    """A run of one epoch in a folder of its own: ``results`` (its folder) and ``weights``."""
    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plumbing, "RESULTS_DIR", folder / "results")
        patch.setattr(plumbing, "CACHE_DIR", folder / "cache")
        train(digit_corpus, 1)
    return types.SimpleNamespace(results=folder / "results",
                                 weights=folder / "results" / "run.weights.h5")


def copy_of_trained_run(trained):
    """The trained run copied into this test's own results folder (free to damage)."""
    shutil.copytree(trained.results, plumbing.RESULTS_DIR)
    return plumbing.RESULTS_DIR / "run.weights.h5"


def run_command(*args):
    """Run ``python *args`` in the project folder, TensorFlow's log level left unset."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, *map(str, args)], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=180)


def assert_one_line_error(result, *phrases):
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


# ------------------------------------------------ training: no lost epoch, no lost weights

def test_a_history_that_lost_its_last_epoch_still_finishes_with_right_epoch_numbers(
        digit_corpus, capsys):
    """A run killed between the checkpoint and the history write (the old callback order):
    the history holds 1 epoch, the checkpoint 2. Going on must end with 3 epochs, not 2."""
    train(digit_corpus, 2)
    pickle_file = plumbing.RESULTS_DIR / "run.pickle"
    history = trained_models.read_history(pickle_file)
    for key in train_utils.EpochRecorder.KEYS:
        history[key] = history[key][:1]
    pickle_file.write_bytes(pickle.dumps(history))

    history = train(digit_corpus, 3)
    assert len(history["loss"]) == 3
    assert np.isnan(history["loss"][1]) and np.isfinite(history["loss"][2])  # not measured
    assert len(trained_models.read_history(pickle_file)["loss"]) == 3
    capsys.readouterr()
    assert len(train(digit_corpus, 3)["loss"]) == 3  # finished: reused, nothing trained
    assert "a run of 3 epochs with these settings has finished" in capsys.readouterr().out


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_around_the_checkpoint_of_an_epoch_loses_and_misnumbers_no_epoch(
        digit_corpus, monkeypatch, when):
    """Killed in epoch 2 just before Keras's checkpoint (the history already has epoch 2) or
    just after it; the run then goes on to 3 epochs, each recorded once, in order."""
    save = keras.callbacks.BackupAndRestore.on_epoch_end

    def killed_in_epoch_2(self, epoch, logs=None):
        if when == "after":
            save(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt
        if when == "before":
            save(self, epoch, logs)

    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_epoch_end", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(digit_corpus, 2)
    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_epoch_end", save)
    history = train(digit_corpus, 3)
    assert len(history["loss"]) == 3 and np.isfinite(history["loss"]).all()
    stored = trained_models.read_history(plumbing.RESULTS_DIR / "run.pickle")
    assert stored["loss"] == history["loss"] and len(stored["seconds"]) == 3


def test_a_kill_while_the_best_weights_are_written_keeps_the_previous_ones(
        digit_corpus, monkeypatch):
    """The best weights are written all or nothing: a write cut short leaves the last good
    file, which still loads and matches its history, and the run can go on."""
    monkeypatch.setattr(train_utils, "best_epoch", lambda history: len(history["loss"]))
    model, saves = build_model(), []

    def torn_second_save(path, *args, **kwargs):
        saves.append(path)
        if len(saves) == 2:
            with open(path, "wb") as half:
                half.write(b"\x89HDF\r\n half a file")
            raise KeyboardInterrupt
        type(model).save_weights(model, path, *args, **kwargs)

    monkeypatch.setattr(model, "save_weights", torn_second_save)
    with pytest.raises(KeyboardInterrupt):
        train_utils.train_model(model, "run.pickle", "run.weights.h5", *digit_corpus[:2],
                                spectrogram=False, epochs=2, verbose=0, jit_compile=False,
                                optimizer=keras.optimizers.Adam(1e-3))
    weights = plumbing.RESULTS_DIR / "run.weights.h5"
    assert saves[1] != weights  # written beside it, then renamed
    trained_models.load_weights_file(build_model(), weights)  # intact, and its history's own
    assert len(train(digit_corpus, 2)["loss"]) == 2
    assert [p.name for p in plumbing.RESULTS_DIR.glob("*partial*")] == []


def test_weights_keep_all_their_suffixes_while_written(tmp_path):
    with plumbing.atomic_path(tmp_path / "m.weights.h5") as partial:
        assert partial.name.endswith(".weights.h5") and partial.parent == tmp_path
        build_model().save_weights(partial)  # Keras refuses any other ending
    assert (tmp_path / "m.weights.h5").is_file()


def test_weights_copied_from_another_run_are_refused(trained):
    weights = copy_of_trained_run(trained)
    build_model(seed=7).save_weights(weights)  # same architecture, another run's weights
    with pytest.raises(ValueError, match="run.weights.h5 is not the weights file that its run "
                                         "saved.*another run"):
        trained_models.load_trained_model("run.weights.h5")


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, before it fails
def test_weights_that_cannot_be_loaded_give_one_error_naming_the_file(trained):
    weights = copy_of_trained_run(trained)
    with pytest.raises(ValueError, match=r"cannot load .*run\.weights\.h5 into model_2"):
        trained_models.load_weights_file(sample_models.cnn_rnn_model(13, 32, 11, 2, "valid", 16),
                                  weights)  # another architecture
    with pytest.raises(ValueError, match=r"cannot load .*run\.weights\.h5 .*other features"):
        trained_models.load_weights_file(build_model(input_dim=81), weights)  # MFCC under spectrograms
    pickle_file = plumbing.RESULTS_DIR / "run.pickle"
    history = trained_models.read_history(pickle_file)
    pickle_file.write_bytes(pickle.dumps({**history, "weights_sha256": None}))  # an older run
    weights.write_bytes(weights.read_bytes()[:5000])  # cut short
    with pytest.raises(ValueError, match=r"cannot load .*run\.weights\.h5.*damaged"):
        trained_models.load_trained_model("run.weights.h5")


@pytest.mark.parametrize("content", [b"", b"\x80\x04 not a pickle", pickle.dumps([1, 2])],
                         ids=["empty", "damaged", "no history"])
def test_an_empty_or_damaged_history_is_one_error_naming_the_file(tmp_path, content):
    path = tmp_path / "model_0.pickle"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="model_0.pickle"):
        trained_models.read_history(path)


def test_a_damaged_checkpoint_and_no_epochs_are_refused(trained, digit_corpus):
    copy_of_trained_run(trained)
    checkpoint = next((plumbing.RESULTS_DIR / "checkpoints" / "run").glob("*.h5"))
    checkpoint.write_bytes(checkpoint.read_bytes()[:3000])
    with pytest.raises(ValueError, match=rf"(?s)checkpoint to go on from, .*{checkpoint.name}, "
                                         "cannot be read.*overwrite=True"):
        train(digit_corpus, 2)
    with pytest.raises(ValueError, match="epochs must be a whole number, at least 1; got 0"):
        train(digit_corpus, 0, name="other")


def test_an_empty_validation_corpus_is_refused_not_scored_wer_0(trained, digit_corpus,
                                                                 tmp_path):
    empty = tmp_path / "empty_corpus.json"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty_corpus.json lists no utterance"):
        data_generator.AudioGenerator(digit_corpus[0], empty, spectrogram=False)
    with pytest.raises(ValueError, match="empty_corpus.json lists no utterance"):
        train_utils.train_model(build_model(), "e.pickle", "e.weights.h5", digit_corpus[0],
                                empty, spectrogram=False, epochs=1, verbose=0,
                                jit_compile=False)
    assert not (plumbing.RESULTS_DIR / "e.pickle").exists()
    model = trained_models.load_trained_model(trained.weights)
    with pytest.raises(ValueError, match="empty_corpus.json lists no utterance to score"):
        decoding.transcripts(model, empty)


def test_summary_table_leaves_out_a_model_not_trained_yet(trained, digit_corpus, capsys):
    copy_of_trained_run(trained)
    table = decoding.summary_table(["run", "model_9"], digit_corpus[2])
    assert list(table.index) == ["run"] and table.loc["run", "epochs"] == 1
    assert "not trained yet (run their training cells): model_9" in capsys.readouterr().out


# ------------------------------------------------------- decoding: no wrong transcript

def test_a_clip_too_short_for_model_2_decodes_nothing_whatever_its_batch(digit_corpus,
                                                                          tmp_path):
    """60 ms give Model 2 no output frame (its formula says -2): the padding of the batch
    must not be decoded as the clip's text."""
    wav = digit_corpus[1].parent / "valid" / "00001.wav"
    samples, rate = soundfile.read(wav, dtype="float32")
    soundfile.write(tmp_path / "clip.wav", samples[:int(0.06 * rate)], rate)
    featurizer = data_generator.Featurizer(rate)
    clip = data_generator.normalize(featurizer(tmp_path / "clip.wav"))
    others = [data_generator.normalize(featurizer(wav.with_name(f"{i:05d}.wav")))
              for i in range(2, 6)]
    keras.utils.set_random_seed(0)
    model = sample_models.cnn_rnn_model(81, 200, 11, 2, "valid", 200)
    assert model.output_length(len(clip)) < 0 and ctc.output_frames(model, len(clip)) == 0
    seen = []

    def beam(probabilities, lengths):
        seen.extend((int(length), probabilities.shape[1]) for length in lengths)
        return decoding.beam_decode(probabilities, lengths, LexiconBeamSearch(DIGIT_WORDS))

    alone = ctc.predict_texts(model, [clip], decode=beam)[0]
    together = ctc.predict_texts(model, [clip, *others], decode=beam)
    assert alone == together[0] == ""
    assert all(0 <= length <= frames for length, frames in seen)


# ------------------------------------------------------------------- transcribe.py

def float_wav(path, peak, seconds=1.0, rate=8000):
    """A 32-bit float WAV of a tone reaching ``peak``."""
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(path, (peak * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate,
                    subtype="FLOAT")
    return path


def test_load_audio_refuses_absurd_samples_but_not_a_slightly_clipped_float_wav(tmp_path):
    with pytest.raises(ValueError, match=r"huge\.wav holds samples up to 1e\+20.*damaged"):
        utils.load_audio(float_wav(tmp_path / "huge.wav", 1e20))
    samples, _ = utils.load_audio(float_wav(tmp_path / "clipped.wav", 1.2))
    assert 1.1 < np.abs(samples).max() < 1.3


def transcribed(capsys, *args):
    """``(status, {path: text}, stderr lines)`` of ``transcribe.main(args)``."""
    status = transcribe.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, dict(line.split("\t") for line in out.splitlines()), err.splitlines()


def test_a_damaged_file_is_reported_and_the_rest_of_its_batch_still_printed(
        trained, digit_corpus, tmp_path, capsys):
    folder = tmp_path / "audio"
    folder.mkdir()
    for i in (1, 2, 3):
        shutil.copy(digit_corpus[1].parent / "valid" / f"{i:05d}.wav", folder / f"{i}.wav")
    float_wav(folder / "2_huge.wav", 1e20)  # NaN features before the fix
    for decoder in ([], ["--greedy"]):
        status, texts, err = transcribed(capsys, "--model", trained.weights, *decoder, folder)
        assert status == 1
        assert sorted(texts) == [str(folder / f"{i}.wav") for i in (1, 2, 3)]
        assert any("transcribe.py: error:" in line and "2_huge.wav" in line and "damaged" in line
                   for line in err), err


def test_a_file_whose_decoding_fails_costs_no_other_file_its_transcript(
        trained, digit_corpus, tmp_path, capsys, monkeypatch):
    valid = digit_corpus[1].parent / "valid"
    files = [valid / f"{i:05d}.wav" for i in range(6)]
    model = trained_models.load_trained_model(trained.weights)
    featurizer = data_generator.Featurizer(**model.record["features"])
    lengths = [int(ctc.output_frames(model, len(featurizer(path)))) for path in files]
    bad = next(i for i, n in enumerate(lengths) if lengths.count(n) == 1)

    def decode(probabilities, output_lengths):
        if lengths[bad] in list(output_lengths):
            raise ValueError("max() arg is an empty sequence")
        return decoding.greedy_decode(probabilities, output_lengths)

    monkeypatch.setattr(transcribe, "load_decoder", lambda *args, **kwargs: decode)
    status, texts, err = transcribed(capsys, "--model", trained.weights, *files)
    assert status == 1
    assert sorted(texts) == sorted(str(p) for i, p in enumerate(files) if i != bad)
    assert f"transcribe.py: error: {files[bad]}: decoding failed (ValueError: max() arg is " \
           "an empty sequence)." in err


def test_a_clip_too_short_is_an_error_and_a_long_file_a_warning(trained, digit_corpus,
                                                                tmp_path, capsys):
    samples, rate = soundfile.read(digit_corpus[1].parent / "valid" / "00001.wav")
    soundfile.write(tmp_path / "short.wav", samples[:int(0.06 * rate)], rate)
    soundfile.write(tmp_path / "long.wav", np.resize(samples, 11 * rate), rate)
    status, texts, err = transcribed(capsys, "--model", trained.weights, "--greedy",
                                     tmp_path / "short.wav", tmp_path / "long.wav")
    assert status == 1 and list(texts) == [str(tmp_path / "long.wav")]
    assert any("error:" in line and "short.wav: too short for this model" in line
               for line in err), err
    assert any("warning:" in line and "long.wav lasts 11.0 s, longer than the 10 s" in line
               for line in err), err


def test_transcribe_argument_errors_are_one_line_naming_the_argument(trained, digit_corpus,
                                                                     tmp_path, capsys):
    wav = digit_corpus[1].parent / "valid" / "00001.wav"
    (tmp_path / "lm.arpa").write_text("")
    with pytest.raises(SystemExit) as stop:
        transcribe.main(["--greedy", "--lm", str(tmp_path / "lm.arpa"), str(wav)])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "transcribe.py: error: argument --lm: not allowed with argument --greedy "
        "(see transcribe.py --help)"]
    lonely = tmp_path / "lonely.weights.h5"
    shutil.copy(trained.weights, lonely)
    for model, phrase in ((plumbing.RESULTS_DIR, "is not a weights file (*.weights.h5)"),
                          (tmp_path / "none.weights.h5", "no such file"),
                          (lonely, "has no record lonely.json beside it")):
        assert transcribe.main(["--model", str(model), str(wav)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"transcribe.py: error: --model {model}")
        assert phrase in err[0]


def test_ctrl_c_in_transcribe_is_one_line_and_status_130(trained, digit_corpus, capsys,
                                                          monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(transcribe, "transcribe_files", interrupted)
    wav = digit_corpus[1].parent / "valid" / "00001.wav"
    assert transcribe.main(["--model", str(trained.weights), str(wav)]) == 130
    assert capsys.readouterr().err.splitlines() == [
        "transcribe.py: interrupted; the files printed above are done."]


def test_transcribe_command_argument_error_has_no_tensorflow_log(tmp_path):
    assert_one_line_error(run_command("transcribe.py", "--model", "results", tmp_path),
                          "transcribe.py: error: --model results is not a weights file")


# ------------------------------------------------------------ worker processes

def _job(folder, name, seconds=0.0, die=False, fail=False):
    """A job for ``run_in_workers``: write ``folder/name`` after ``seconds`` and return
    ``name``; or die at once (killed), or raise."""
    if die:
        os.kill(os.getpid(), signal.SIGKILL)
    if fail:
        raise ValueError(f"{name} failed")
    time.sleep(seconds)
    (folder / name).write_text(name)
    return name


def test_a_killed_worker_takes_no_other_job_with_it(tmp_path, capsys):
    jobs = [(tmp_path, "first", 1.0), (tmp_path, "victim", 0, True), (tmp_path, "third")]
    with pytest.raises(RuntimeError) as failure:
        plumbing.run_in_workers(_job, jobs, processes=2, desc="training", unit="model")
    message = str(failure.value)
    assert message.startswith("1 of 3 models failed: model 2 (victim) died")
    assert "results are kept" in message and "running the same call again" in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "third"]
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("training: 100%")


def test_workers_return_in_job_order_and_raise_a_jobs_own_error(tmp_path):
    jobs = [(tmp_path, "slow", 1.0), (tmp_path, "fast")]
    assert plumbing.run_in_workers(_job, jobs, processes=2) == ["slow", "fast"]
    with pytest.raises(ValueError, match="broken failed"):
        plumbing.run_in_workers(_job, [(tmp_path, "broken", 0, False, True)])


# ------------------------------------------------------------ commands: one line

def library_modules():
    """pyproject.toml's py-modules less the commands."""
    listed = re.search(r"py-modules = \[(.*?)\]", (PROJECT_DIR / "pyproject.toml").read_text(),
                       re.DOTALL).group(1)
    return [name for name in re.findall(r'"(\w+)"', listed) if name not in COMMANDS]


@pytest.mark.parametrize("module", library_modules())
def test_a_library_module_run_as_a_command_prints_one_line_and_no_tensorflow_log(module):
    for how in (["-m", module], [f"{module}.py", "x.wav"]):
        assert_one_line_error(run_command(*how), f"{module} is a library module, not a command")


def test_run_notebooks_refuses_a_missing_file_or_one_that_is_no_notebook(tmp_path):
    (tmp_path / "data.ipynb").write_text('{"cells": "none"}')
    assert_one_line_error(run_command("run_notebooks.py", tmp_path / "missing.ipynb"),
                          "run_notebooks.py: error:", "missing.ipynb: no such file")
    assert_one_line_error(run_command("run_notebooks.py", tmp_path / "data.ipynb"),
                          "data.ipynb is not a Jupyter notebook")
    assert run_notebooks.main([str(tmp_path / "data.ipynb"), str(tmp_path / "missing.ipynb")]) == 2


def test_make_exercises_has_help_and_refuses_other_arguments():
    shown = run_command("make_exercises.py", "--help")
    assert shown.returncode == 0 and shown.stdout.startswith("usage: make_exercises.py")
    assert_one_line_error(run_command("make_exercises.py", "--force"),
                          "make_exercises.py: error: unrecognized arguments: --force")


@pytest.mark.parametrize("args, phrase", [
    (["benchmarks/speed.py", "--epochs", "0"], "argument --epochs: 0 is below 1"),
    (["benchmarks/speed.py", "--batch-size", "0"], "argument --batch-size: 0 is below 1"),
    (["benchmarks/transcribe_speed.py", "--count", "-3"], "argument --count: -3 is below 1"),
])
def test_benchmarks_refuse_bad_numbers_in_one_line(args, phrase):
    assert_one_line_error(run_command(*args), phrase)


def test_transcribe_speed_times_the_decoder_that_transcribe_uses(trained, digit_corpus):
    result = run_command("benchmarks/transcribe_speed.py", "--model", trained.weights,
                         "--files", digit_corpus[1].parent / "valid", "--count", "3")
    assert result.returncode == 0, result.stderr
    assert "total, lexicon + LM" in result.stdout and "3 files" in result.stdout


@pytest.mark.parametrize("args, phrases", [
    (["--seed", "-1"], ["argument --seed: -1 is below 0"]),
    (["--train-size", "0"], ["argument --train-size: 0 is below 1"]),
    (["--valid-size", "-5"], ["argument --valid-size: -5 is below 1"]),
    (["--max-digits", "0"], ["argument --max-digits: 0 is below 1"]),
    (["--fsdd", "x"], ["unrecognized arguments: --fsdd x"]),
    (["--source", "nowhere"], ["prepare_data.py digits: error: FSDD folder not found", "nowhere"]),
])
def test_prepare_data_digits_bad_arguments_are_one_line(args, phrases, tmp_path):
    assert_one_line_error(run_command("prepare_data.py", "digits", "--out", tmp_path / "d", *args),
                          *phrases)
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------- corpus builds

def assert_consistent_corpus(folder, seed):
    """Every line of every set matches its audio (length, digits) and the build's seed."""
    assert json.loads((folder / "build.json").read_text())["seed"] == seed
    for split in ("train", "valid", "test"):
        for line in map(json.loads, (folder / f"{split}_corpus.json").read_text().splitlines()):
            info = soundfile.info(folder / line["key"])
            assert round(info.frames / info.samplerate, 4) == line["duration"], line
            digits = [parse_fsdd_name(source)[0] for source in line["sources"]]
            assert line["text"] == " ".join(DIGIT_WORDS[d] for d in digits)


def snapshot(folder):
    """``{relative path: bytes}`` of every file in ``folder``."""
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_builds_with_other_seeds_into_one_folder_never_mix_audio_and_transcripts(
        fsdd_dir, tmp_path, monkeypatch):
    out = tmp_path / "digits"
    build = functools.partial(build_digit_corpus, fsdd_dir, out, train_size=6, valid_size=4,
                              test_size=4, max_digits=3)
    build(seed=1)
    assert_consistent_corpus(out, 1)
    before = snapshot(out)
    synthesize, calls = digit_corpus.synthesize_string, []

    def killed_in_the_validation_strings(*args, **kwargs):
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt
        return synthesize(*args, **kwargs)

    monkeypatch.setattr(digit_corpus, "synthesize_string", killed_in_the_validation_strings)
    with pytest.raises(KeyboardInterrupt):
        build(seed=2)
    assert snapshot(out) == before  # the finished corpus, untouched
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        build_digit_corpus(fsdd_dir, tmp_path / "fresh", 6, 4, 4, max_digits=3, seed=2)
    assert not list((tmp_path / "fresh").glob("*_corpus.json"))  # nothing readable
    monkeypatch.setattr(digit_corpus, "synthesize_string", synthesize)
    build(seed=2)
    assert_consistent_corpus(out, 2)
    assert snapshot(out) != before


@pytest.mark.parametrize("arguments, phrase", [
    ({"train_size": 0}, "train_size must be a whole number of strings, at least 1; got 0"),
    ({"valid_size": -5}, "valid_size must be a whole number of strings, at least 1; got -5"),
    ({"max_digits": 0}, "max_digits must be a whole number from 1 to 20; got 0"),
    ({"seed": -1}, "seed must be a whole number, 0 or more; got -1"),
    ({"connected_share": 1.5}, "connected_share must lie between 0 and 1; got 1.5"),
])
def test_corpus_arguments_out_of_range_are_refused(fsdd_dir, tmp_path, arguments, phrase):
    with pytest.raises(ValueError, match=phrase.replace(".", r"\.")):
        build_digit_corpus(fsdd_dir, tmp_path / "d", **{"train_size": 4, **arguments})
    assert not (tmp_path / "d").exists()


def test_a_folder_that_is_no_corpus_is_not_replaced(fsdd_dir, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="exists and is not a digit corpus"):
        build_digit_corpus(fsdd_dir, tmp_path / "mine", 4, 2, 2)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
