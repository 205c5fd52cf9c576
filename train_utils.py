"""Training with CTC: the acoustic-model stage of the VUI track.

``train_model`` wraps an acoustic model with the CTC loss (``ctc.add_ctc_loss``),
trains it on a corpus and keeps everything in ``results/``: the history pickle, written
after every epoch, the weights of the best epoch, and a JSON record of how the
model was made. A finished run is never replaced silently: running the same call
again reuses it, a longer run goes on from it. ``load_trained_model`` rebuilds a
trained model from its record. Decoding and scoring live in ``decoding.py``.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("train_utils")

import contextlib
import io
import json
import math
import pickle
import shutil
import time
from pathlib import Path

import jiwer
import keras
import numpy as np
import pandas as pd
import tensorflow as tf

import plumbing
import sample_models
from ctc import add_ctc_loss, check_label_lengths, ctc_output_loss, frames_needed, predict_texts
from data_generator import DIGITS_TRAIN_JSON, DIGITS_VALID_JSON, AudioGenerator
from plumbing import atomic_path, ensure_writable, file_sha256, machine_description, project_path


def default_optimizer():
    """SGD, learning rate 0.02 with inverse time decay 1e-6 per step, Nesterov momentum 0.9, clipnorm 5."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.02, decay_steps=1, decay_rate=1e-6)
    return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, clipnorm=5)


def cosine_adam(learning_rate, epochs, steps_per_epoch, warmup_epochs=1, clipnorm=5.0):
    """Adam whose learning rate rises linearly for ``warmup_epochs``, then falls to 0 along a cosine.

    Args:
        learning_rate: the highest rate, reached at the end of the warm-up.
        epochs, steps_per_epoch: the length of the run; the decay ends with it.
        warmup_epochs: epochs of linear warm-up from 0 (at most all epochs but the
            last). Adam's first steps are large for every weight at once; starting
            small keeps a relu recurrence (Models 1 and 2) from blowing up before
            it has learnt anything.
        clipnorm: gradients are rescaled to at most this norm (recurrent nets
            otherwise blow up now and then).
    """
    if warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be 0 or more; got {warmup_epochs}.")
    warmup = int(min(warmup_epochs, epochs - 1) * steps_per_epoch)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else learning_rate, epochs * steps_per_epoch - warmup,
        warmup_target=learning_rate if warmup else None, warmup_steps=warmup)
    return keras.optimizers.Adam(schedule, clipnorm=clipnorm)


# ------------------------------------------------------------------------ training

class EpochRecorder(keras.callbacks.Callback):
    """Writes the history pickle after every epoch and the weights of the best one.

    The pickle holds ``loss``, ``val_loss``, ``val_wer`` (greedy WER in percent on
    the validation strings), ``seconds`` (per epoch) and ``learning_rate`` lists,
    ``best_epoch`` (1-based), the model's ``record``, ``stopped`` (``None``, or why
    training stopped early) and ``weights_sha256`` (of the weights file, so that
    weights from another run are recognised). The best epoch has the lowest
    validation WER, ties going to the lower validation loss: WER is what the
    model is for, and the loss keeps falling for a model that is ever more sure
    of the same transcripts. Without a validation set it is the last epoch. The
    weights file always holds the best epoch's weights, written all or nothing.
    A NaN or infinite batch loss stops training before the epoch is recorded.

    Args:
        valid: ``(features, texts)`` of the validation strings, or ``None``.
    """

    KEYS = ("loss", "val_loss", "val_wer", "seconds", "learning_rate")

    def __init__(self, acoustic_model, pickle_file, weights_file, record, valid=None):
        super().__init__()
        self.acoustic_model, self.record, self.valid = acoustic_model, record, valid
        self.pickle_file, self.weights_file = Path(pickle_file), Path(weights_file)
        self.history, self.bad_loss_at, self.weights_sha256 = {}, None, None

    def on_train_begin(self, logs=None):
        self.history = {key: [] for key in self.KEYS}
        if self.pickle_file.is_file():  # resuming: keep the epochs already done
            previous = read_history(self.pickle_file)
            if previous.get("record", {}).get("build") == self.record["build"]:
                self.history.update({k: list(previous.get(k, [])) for k in self.history})
                self.weights_sha256 = previous.get("weights_sha256")

    def on_epoch_begin(self, epoch, logs=None):
        # Keras goes on from its checkpoint: an epoch recorded after it is trained again,
        # and an epoch it holds that the history lost (an older run killed between the two)
        # is kept as not measured, so that epoch numbers stay right.
        for values in self.history.values():
            del values[epoch:]
            values += [math.nan] * (epoch - len(values))
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not math.isfinite(float(logs["loss"])):
            self.bad_loss_at = (len(self.history["loss"]) + 1, batch + 1)
            self.model.stop_training = True

    @property
    def best_epoch(self):
        """1-based epoch with the lowest validation WER, then loss, so far (0 before any)."""
        return best_epoch(self.history)

    def on_epoch_end(self, epoch, logs=None):
        if self.bad_loss_at:
            return
        seconds = time.perf_counter() - self.started
        self.history["loss"].append(float(logs["loss"]))
        self.history["val_loss"].append(float(logs.get("val_loss", math.nan)))
        self.history["val_wer"].append(self._validation_wer())
        self.history["seconds"].append(seconds)
        self.history["learning_rate"].append(float(self.model.optimizer.learning_rate))
        if self.best_epoch == len(self.history["loss"]) or not self.weights_file.is_file():
            with atomic_path(self.weights_file) as partial:
                self.acoustic_model.save_weights(partial)
            self.weights_sha256 = file_sha256(self.weights_file)
        self._write_pickle(stopped=None)

    def _validation_wer(self):
        if not self.valid:
            return math.nan
        features, texts = self.valid
        return 100 * jiwer.wer(list(texts), predict_texts(self.acoustic_model, features))

    def on_train_end(self, logs=None):
        if self.bad_loss_at and self.history["loss"]:
            epoch, batch = self.bad_loss_at
            self._write_pickle(stopped=f"NaN or infinite loss in epoch {epoch}, batch {batch}")

    def _write_pickle(self, stopped):
        with atomic_path(self.pickle_file) as partial, open(partial, "wb") as stream:
            pickle.dump({**self.history, "best_epoch": self.best_epoch, "record": self.record,
                         "stopped": stopped, "weights_sha256": self.weights_sha256}, stream)


def best_epoch(history):
    """1-based epoch of a history with the lowest ``val_wer``, ties to the lower ``val_loss``.

    Without validation scores it is the last epoch; 0 for an empty history.
    """
    done = len(history["loss"])
    wer = np.array(history.get("val_wer", [math.nan] * done), float)
    loss = np.array(history["val_loss"], float)
    if not done or not (np.isfinite(wer).any() or np.isfinite(loss).any()):
        return done
    key = np.where(np.isfinite(wer), wer, np.inf) if np.isfinite(wer).any() else np.zeros(done)
    tie = np.where(np.isfinite(loss), loss, np.inf)
    return int(np.lexsort((tie, key))[0]) + 1


def _settings(record):
    """What makes two runs the same experiment: the record less epochs, machine and versions.

    The length of the learning-rate schedule follows the epochs, and Keras numbers
    the names of optimizers (``adam_2``), so both are left out too.
    """
    def optimizer_settings(value):
        if isinstance(value, dict):
            return {k: optimizer_settings(v) for k, v in value.items()
                    if k not in ("decay_steps", "name")}
        return value
    settings = {k: v for k, v in record.items()
                if k not in ("epochs", "machine", "versions")}
    settings["optimizer"] = optimizer_settings(record.get("optimizer"))
    return json.loads(json.dumps(settings))  # tuples and lists compare alike


def _previous_run(pickle_file, weights_file):
    """The pickle of an earlier run that kept weights, or ``None``.

    A history without its weights (e.g. a reference run committed to git) is no
    work to keep: it is replaced by the new run.
    """
    if not pickle_file.is_file() or not weights_file.is_file():
        return None
    previous = read_history(pickle_file)
    return previous if previous.get("loss") else None


def _reuse_or_continue(previous, record, epochs, names, backup_dir):
    """Decide what to do with an earlier run in the same files: ``'reuse'`` or ``'continue'``.

    Raises:
        ValueError: the earlier run has other settings or more epochs, or cannot be
            continued; the message says how to replace it (``overwrite=True``).
    """
    old, new = _settings(previous["record"]), _settings(record)
    different = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    done = len(previous["loss"])
    replace = (f"Pass overwrite=True to replace it (its weights included), or save this run "
               f"under other names than {names}.")
    if different:
        raise ValueError(f"{names} already hold a run of {done} epochs with other settings "
                         f"(different: {', '.join(different)}). {replace}")
    if previous.get("stopped") or done == epochs:
        return "reuse"
    if done > epochs:
        raise ValueError(f"{names} already hold {done} epochs of these settings, more than the "
                         f"{epochs} asked for. {replace}")
    if not backup_dir.is_dir():
        raise ValueError(f"{names} hold {done} of {epochs} epochs, but the checkpoint to go on "
                         f"from ({project_path(backup_dir)}) is gone. {replace}")
    return "continue"


def train_model(input_to_softmax, pickle_path, save_model_path, train_json=DIGITS_TRAIN_JSON,
                valid_json=DIGITS_VALID_JSON, minibatch_size=20, spectrogram=True, mfcc_dim=13,
                optimizer=None, epochs=20, verbose=1, sort_by_duration=False, max_duration=10.0,
                jit_compile=True, overwrite=False):
    """Train an acoustic model with CTC and keep its results in ``results/``.

    Results already in the same files are never replaced silently. A call with
    the same settings as a finished run loads its best weights into the model and
    returns its history without training; one with more ``epochs`` goes on from
    where the run ended (or was interrupted); one with other settings is refused
    unless ``overwrite=True``.

    Args:
        input_to_softmax: a model from ``sample_models`` (it carries
            ``output_length`` and ``build_args``), built with ``input_dim`` equal
            to the corpus's feature dimension.
        pickle_path: file name of the history pickle, e.g. ``'model_0.pickle'``.
        save_model_path: file name of the weights, e.g. ``'model_0.weights.h5'``;
            a JSON record of how the model was made is written beside it
            (``'model_0.json'``).
        train_json, valid_json: description files (default: the digit corpus).
        minibatch_size: utterances per batch.
        spectrogram, mfcc_dim: features (spectrogram, else ``mfcc_dim`` MFCCs).
        optimizer: a Keras optimizer; ``None`` gives ``default_optimizer()``.
        epochs: total epochs. An interrupted run resumes from its last finished
            epoch when called again with the same arguments.
        overwrite: delete the results in these files and train from scratch.
        verbose: Keras progress display (0, 1 or 2).
        sort_by_duration: first epoch in order of length.
        max_duration: longer utterances (seconds) are skipped.
        jit_compile: compile the train step with XLA, which fuses each recurrent
            layer's loop over the frames, so recurrent models train several
            times faster on a CPU (README, "Speed"). Convolution-heavy models
            can be faster without it (TensorFlow's own CPU convolutions beat
            XLA's), and each new batch shape is compiled once.

    Returns:
        The history dict also saved in the pickle.
    """
    if not str(save_model_path).endswith(".weights.h5"):
        raise ValueError(f"save_model_path must end in '.weights.h5' (Keras 3 weight files), "
                         f"got {save_model_path!r}.")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a whole number, at least 1; got {epochs!r}.")
    results = plumbing.RESULTS_DIR
    pickle_file, weights_file = results / pickle_path, results / save_model_path
    backup_dir = results / "checkpoints" / str(save_model_path)[:-len(".weights.h5")]
    ensure_writable(pickle_file.parent, weights_file.parent, backup_dir.parent,
                    plumbing.CACHE_DIR)
    data = AudioGenerator(train_json, valid_json, spectrogram, mfcc_dim, minibatch_size,
                          max_duration, sort_by_duration)
    model_dim = input_to_softmax.input_shape[-1]
    if model_dim != data.input_dim:
        raise ValueError(f"{input_to_softmax.name} expects {model_dim} features per frame but "
                         f"these features have {data.input_dim}: build it with "
                         f"input_dim={data.input_dim}.")
    check_label_lengths(input_to_softmax, data.train + data.valid,
                        data.train_features + data.valid_features)
    optimizer = optimizer or default_optimizer()
    record = _training_record(input_to_softmax, data, train_json, valid_json, max_duration,
                              minibatch_size, jit_compile, epochs, optimizer)
    names = f"{project_path(pickle_file)} and {project_path(weights_file)}"
    previous = None if overwrite else _previous_run(pickle_file, weights_file)
    if getattr(input_to_softmax, "record", None) is not None and previous is None:
        raise ValueError(f"{input_to_softmax.name} already holds trained weights, so this run "
                         "would not start from scratch: build the model again (run the cell "
                         "that builds it), then train it.")
    if overwrite:
        for stale in (pickle_file, weights_file, _record_file(save_model_path)):
            stale.unlink(missing_ok=True)
    if previous is None:  # a checkpoint of no kept run would be restored instead of training
        shutil.rmtree(backup_dir, ignore_errors=True)
    else:
        if _reuse_or_continue(previous, record, epochs, names, backup_dir) == "reuse":
            return _reuse(input_to_softmax, previous, weights_file)
        print(f"{input_to_softmax.name}: going on from epoch {len(previous['loss'])} of "
              f"{epochs} in {names}")
    _record_file(save_model_path).write_text(json.dumps(record, indent=1) + "\n")
    input_to_softmax.record = record
    valid = (data.valid_features, [u["text"] for u in data.valid]) if data.valid else None
    recorder = EpochRecorder(input_to_softmax, pickle_file, weights_file, record, valid)
    # The last epoch's state stays on disk, so that a longer run can go on from it. It is
    # saved after the recorder's files: a run killed between the two trains that epoch again.
    backup = keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False)
    _check_checkpoint(backup_dir, names)
    model = add_ctc_loss(input_to_softmax)
    # Keras's jit_compile="auto" would leave XLA off on every CPU-only machine.
    model.compile(loss={"ctc": ctc_output_loss}, optimizer=optimizer, jit_compile=jit_compile)
    model.fit(data.train_batches(), validation_data=data.valid_batches() if data.valid else None,
              epochs=epochs, verbose=verbose, callbacks=[recorder, backup])
    done, best = len(recorder.history["loss"]), recorder.best_epoch
    if recorder.bad_loss_at:
        shutil.rmtree(backup_dir, ignore_errors=True)  # it holds the diverged weights
        _report_divergence(recorder, pickle_file, weights_file)
    if best and (best != done or recorder.bad_loss_at):  # the model in memory is not the best
        input_to_softmax.load_weights(weights_file)
    if best and data.valid:
        print(f"{input_to_softmax.name}: kept epoch {best} of {done}, the lowest validation WER "
              f"({recorder.history['val_wer'][best - 1]:.2f}%, greedy; validation loss "
              f"{recorder.history['val_loss'][best - 1]:.2f}), in {project_path(weights_file)}")
    return recorder.history


def _check_checkpoint(backup_dir, names):
    """Refuse to go on from a checkpoint that cannot be read (a run killed while writing it)."""
    import h5py

    for path in sorted(Path(backup_dir).glob("*.h5")):
        try:
            with h5py.File(path, "r"):
                pass
        except OSError as error:
            raise ValueError(
                f"the checkpoint to go on from, {project_path(path)}, cannot be read ({error}); "
                f"it is damaged. Delete the folder {project_path(backup_dir)} and pass "
                f"overwrite=True to train {names} again from scratch.") from error


def _training_record(input_to_softmax, data, train_json, valid_json, max_duration,
                     minibatch_size, jit_compile, epochs, optimizer):
    """How a run is made, as stored in ``results/<name>.json`` and in its pickle."""
    return {
        "model": input_to_softmax.name,
        "build": dict(input_to_softmax.build_args),
        "params": input_to_softmax.count_params(),
        "features": data.featurizer.settings,
        "train_json": project_path(train_json),
        "valid_json": project_path(valid_json) if valid_json else None,
        "corpus_sha256": {"train": file_sha256(train_json), "valid": file_sha256(valid_json)},
        "train_utterances": len(data.train),
        "valid_utterances": len(data.valid),
        "max_duration": max_duration,
        "minibatch_size": minibatch_size,
        "jit_compile": jit_compile,
        "epochs": epochs,
        "optimizer": keras.optimizers.serialize(optimizer),
        "machine": machine_description(),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }


def _report_divergence(recorder, pickle_file, weights_file):
    """Say where a run that hit a NaN or infinite loss stopped, and what was kept."""
    done, best = len(recorder.history["loss"]), recorder.best_epoch
    epoch, batch = recorder.bad_loss_at
    advice = ("Lower the learning rate or clip gradients (clipnorm), then train again "
              "with overwrite=True.")
    if done:
        print(f"Training stopped: the loss became NaN or infinite in epoch {epoch}, batch "
              f"{batch}. The history of the {done} good epochs is kept in "
              f"{project_path(pickle_file)} and the weights of epoch {best} in "
              f"{project_path(weights_file)}; the model holds them. {advice}")
    else:
        print(f"Training stopped: the loss became NaN or infinite in epoch {epoch}, batch "
              f"{batch}, before any epoch finished: nothing was saved, and the model's "
              f"weights are unusable. Build the model again. {advice}")


def _reuse(input_to_softmax, previous, weights_file):
    """Load a finished run's best weights into the model and return its history."""
    _load_weights(input_to_softmax, weights_file)
    input_to_softmax.record = previous["record"]
    best, done = previous["best_epoch"], len(previous["loss"])
    how = f"stopped early ({previous['stopped']})" if previous.get("stopped") else "finished"
    wer = previous.get("val_wer", [math.nan] * done)[best - 1]
    scored = "" if np.isnan(wer) else f" (validation WER {wer:.2f}%)"  # nan: no validation
    print(f"{input_to_softmax.name}: a run of {done} epochs with these settings has {how}; "
          f"loaded its epoch {best}{scored} from "
          f"{project_path(weights_file)} instead of training again (overwrite=True retrains).")
    return {key: previous.get(key, []) for key in EpochRecorder.KEYS}


# ------------------------------------------------------------ reloading a model

def _record_file(weights_path):
    """``results/<name>.json`` beside ``results/<name>.weights.h5``."""
    return plumbing.RESULTS_DIR / (str(weights_path)[:-len(".weights.h5")] + ".json")


def load_weights_checked(input_to_softmax, weights_path):
    """Load ``results/<weights_path>`` into a model built with the same arguments.

    Attaches the training record to ``input_to_softmax.record``.

    Raises:
        FileNotFoundError: no weights or record: train the model first.
        ValueError: the model was built with other arguments (or for other
            features) than the one trained; the differences are named.
    """
    weights_file, record_file = plumbing.RESULTS_DIR / weights_path, _record_file(weights_path)
    if not weights_file.is_file() or not record_file.is_file():
        raise FileNotFoundError(f"{weights_file} or its record {record_file.name} is missing: "
                                "train the model first with train_model(...).")
    record = json.loads(record_file.read_text())
    built, trained = dict(input_to_softmax.build_args), record["build"]
    different = sorted(k for k in set(built) | set(trained) if built.get(k) != trained.get(k))
    if different:
        raise ValueError(
            f"{weights_path} was trained on a model built as {trained['factory']}("
            + ", ".join(f"{k}={trained.get(k)!r}" for k in different if k != "factory")
            + f"), but this model is {built['factory']}("
            + ", ".join(f"{k}={built.get(k)!r}" for k in different if k != "factory")
            + "). Build it with the trained arguments, or use load_trained_model().")
    _load_weights(input_to_softmax, weights_file)
    input_to_softmax.record = record
    return input_to_softmax


def _load_weights(input_to_softmax, weights_file):
    """Load a weights file of ``train_model`` into a model, checking that it is its run's own.

    The run's history pickle beside the weights holds their SHA-256: weights copied
    over from another run are refused even where their shapes would fit.

    Raises:
        ValueError: the weights belong to another run, or cannot be loaded into
            this model (damaged, or of another architecture or other features).
    """
    weights_file = Path(weights_file)
    pickle_file = weights_file.with_name(weights_file.name[:-len(".weights.h5")] + ".pickle")
    expected = read_history(pickle_file).get("weights_sha256") if pickle_file.is_file() else None
    if expected and file_sha256(weights_file) != expected:
        raise ValueError(f"{project_path(weights_file)} is not the weights file that its run "
                         f"saved (its SHA-256 differs from the one in {pickle_file.name}): it "
                         "comes from another run. Put back that run's own weights, or train "
                         "again with overwrite=True.")
    try:
        with plumbing.stderr_to_devnull():
            input_to_softmax.load_weights(weights_file)
    except Exception as error:  # h5py, Keras and TensorFlow each raise their own kinds
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        raise ValueError(f"cannot load {project_path(weights_file)} into {input_to_softmax.name} "
                         f"({type(error).__name__}: {reason}). The file is damaged (e.g. cut "
                         "short) or holds another model's weights, or weights trained on other "
                         "features: train the model again (overwrite=True), or use the weights "
                         "written with this record.") from error


def load_trained_model(weights_path):
    """Rebuild a trained model from its record in ``results/`` and load its weights."""
    return load_weights_checked(_rebuilt(weights_path), weights_path)


def _rebuilt(weights_path):
    """A new, untrained model built as the record beside ``weights_path`` says."""
    record_file = _record_file(weights_path)
    if not record_file.is_file():
        raise FileNotFoundError(f"{record_file} is missing: train the model first.")
    build = dict(json.loads(record_file.read_text())["build"])
    return getattr(sample_models, build.pop("factory"))(**build)


def frames_for_transcript(names, frames, text, prefix=""):
    """How many output frames each trained model gives an utterance, against what CTC needs.

    Args:
        names: result names, e.g. ``['model_0', 'model_end']``; each model is rebuilt
            (without its weights) from ``results/<prefix><name>.json``.
        frames: the utterance's input frames (10 ms each).
        text: its transcript.

    Returns:
        A DataFrame indexed by name: ``output frames`` (``model.output_length(frames)``),
        ``ms per output frame``, ``frames the text needs`` (CTC needs at least
        ``len(text)`` frames plus one blank between doubled letters) and
        ``output / needed`` (below 1, the transcript cannot be emitted at all).
    """
    import pandas as pd

    needed = frames_needed(text)
    rows = {}
    for name in names:
        model = _rebuilt(f"{prefix}{name}.weights.h5")
        out = int(model.output_length(frames))
        rows[name] = {"output frames": out, "ms per output frame": round(10 * frames / out),
                      "frames the text needs": needed, "output / needed": round(out / needed, 1)}
    return pd.DataFrame.from_dict(rows, orient="index")


def load_history(pickle_path):
    """The history dict that ``train_model`` saved as ``results/<pickle_path>``."""
    path = plumbing.RESULTS_DIR / pickle_path
    if not path.is_file():
        raise FileNotFoundError(f"{project_path(path)} not found: train the model first.")
    return read_history(path)


def read_history(path):
    """The history dict in the pickle ``path``.

    Raises:
        ValueError: naming the file, when it is empty, cut short or no history.
    """
    try:
        with open(path, "rb") as stream:
            history = pickle.load(stream)
    except (EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError,
            ValueError) as error:
        raise ValueError(f"{project_path(path)} is not a readable training history "
                         f"({type(error).__name__}: {error}); it is damaged or empty. Delete it "
                         "and train again (or train with overwrite=True).") from None
    if not isinstance(history, dict) or "loss" not in history:
        raise ValueError(f"{project_path(path)} holds no training history (no 'loss'): delete "
                         "it and train again.")
    return history


def _train_job(build_args, name, folders, seed, learning_rate, warmup_epochs, settings):
    """One model, in a worker: build it from its ``build_args`` and train it with ``train_model``."""
    plumbing.RESULTS_DIR, plumbing.CACHE_DIR = folders  # the caller's folders, not the defaults
    keras.utils.set_random_seed(seed)
    build = dict(build_args)
    model = getattr(sample_models, build.pop("factory"))(**build)
    steps = AudioGenerator(settings["train_json"], None, settings.get("spectrogram", True),
                           minibatch_size=settings.get("minibatch_size", 20)).steps_per_epoch
    optimizer = cosine_adam(learning_rate, settings["epochs"], steps, warmup_epochs)
    pickle_file = plumbing.RESULTS_DIR / f"{name}.pickle"
    before = len(read_history(pickle_file)["loss"]) if pickle_file.is_file() else 0
    with contextlib.redirect_stdout(io.StringIO()):  # the caller's table says what happened
        history = train_model(model, f"{name}.pickle", f"{name}.weights.h5",
                              optimizer=optimizer, verbose=0, **settings)
    seconds, best = history["seconds"], best_epoch(history)
    return {"epochs": len(history["loss"]), "trained now": len(history["loss"]) - before,
            "kept epoch": best, "val WER %": history["val_wer"][best - 1] if best else math.nan,
            "val loss": history["val_loss"][best - 1] if best else math.nan,
            "s/epoch": float(np.nanmedian(seconds[1:] or seconds)),
            "train min": float(np.nansum(seconds)) / 60}


def train_in_workers(models, prefix="", learning_rate=1e-3, warmup_epochs=1, xla=(), seed=0,
                     processes=None, **settings):
    """Train several built models side by side in worker processes, each with ``train_model``.

    Each worker rebuilds its model from ``model.build_args`` (so edits saved to
    ``sample_models.py`` count), trains it with ``cosine_adam`` and keeps its
    results in ``results/<prefix><name>.*`` exactly as ``train_model`` does: a
    finished run is reused and an interrupted one goes on. Small recurrent models
    leave cores idle between their small operations, so two one-thread workers
    get more done than one model with two threads (README, "Speed"); the seconds
    they record are those of a shared machine.

    Args:
        models: ``{name: model}``, models built by ``sample_models`` factories.
        prefix: results sub-folder and prefix, e.g. ``'quick/'``.
        learning_rate, warmup_epochs: ``cosine_adam``'s, for every model.
        xla: names of the models compiled with XLA (``jit_compile=True``); the others are not.
        seed: seeds every model's weights, batch order and dropout.
        processes: models trained at once (default: one per usable core).
        settings: ``train_model``'s other arguments, the same for every model
            (``train_json``, ``valid_json``, ``epochs``, ``spectrogram``...).

    Returns:
        A DataFrame indexed by name: ``epochs``, ``trained now`` (0 where a finished
        run was reused), ``kept epoch`` (``best_epoch``), its ``val WER %`` and ``val
        loss``, ``s/epoch`` (median after the first epoch) and ``train min``.
    """
    folders = (plumbing.RESULTS_DIR, plumbing.CACHE_DIR)
    # Features are computed (and cached) here once, not by every worker.
    AudioGenerator(settings["train_json"], settings.get("valid_json"),
                   settings.get("spectrogram", True), settings.get("mfcc_dim", 13))
    jobs = [(model.build_args, f"{prefix}{name}", folders, seed, learning_rate, warmup_epochs,
             {**settings, "jit_compile": name in xla}) for name, model in models.items()]
    rows = plumbing.run_in_workers(_train_job, jobs, processes, "training", "model")
    return pd.DataFrame(rows, index=list(models))


def load_histories(names, prefix=""):
    """The histories of the models in ``names`` trained so far, read from ``results/``.

    Reads ``results/<prefix><name>.pickle`` for each name; names with no such file
    are left out and listed in one printed line, so comparison cells work at any
    point of a notebook (after a restart too) and show what exists.

    Returns:
        ``{name: history}`` in the order of ``names``; each history maps ``"loss"`` and
        ``"val_loss"`` to one CTC loss per epoch (nats per utterance).
    """
    found = {name: plumbing.RESULTS_DIR / f"{prefix}{name}.pickle" for name in names}
    missing = [name for name, path in found.items() if not path.is_file()]
    if missing:
        print(f"not trained yet (run their training cells): {', '.join(missing)}")
    return {name: load_history(path) for name, path in found.items() if name not in missing}


def plot_loss_curves(histories, labels=None, highlight=None):
    """Training and validation CTC loss per epoch of each model, side by side.

    The loss axis is logarithmic with ticks at 1, 2 and 5 times each power of ten, so
    values below 1 stay readable; the legend sits outside the axes, clear of the curves.

    Args:
        histories: ``{name: history}`` as ``load_histories`` returns it.
        labels: ``{name: legend text}``, e.g. the architecture (default: the names).
        highlight: a name whose curves are drawn thicker.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure, axes = plt.subplots(1, 2, figsize=(14, 5), sharey=True, layout="constrained")
    for name, history in histories.items():
        for ax, key in zip(axes, ("loss", "val_loss")):
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], marker=".",
                    label=(labels or {}).get(name, name), linewidth=3 if name == highlight else 1.5)
    for ax, title in zip(axes, ("Training loss", "Validation loss")):
        ax.set(title=title, xlabel="epoch", yscale="log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("CTC loss (nats per utterance)")
    axes[1].legend(title="model", loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure
