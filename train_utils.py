"""Training, decoding and evaluation.

VUI track: ``add_ctc_loss`` wraps an acoustic model with the CTC loss,
``train_model`` trains it on a corpus and keeps everything in ``results/`` (history
pickle written every epoch, weights, a JSON record of how the model was made),
``load_trained_model`` rebuilds a trained model from that record, and the decoding
helpers turn its output into text and measure WER and CER.
"""

import hashlib
import json
import math
import multiprocessing
import os
import pickle
import platform
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import jiwer
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import sklearn.metrics
import tensorflow as tf
from keras import ops
from tqdm.auto import tqdm

import data_generator
import sample_models
from char_map import BLANK_INDEX
from data_generator import (DIGITS_TRAIN_JSON, DIGITS_VALID_JSON, AudioGenerator, Featurizer,
                            ImageBatches, load_description_file, normalize, pad_batch,
                            speaker_split)
from utils import (PROJECT_DIR, RESULTS_DIR, ensure_writable, int_sequence_to_text,
                   refuse_to_run_as_command, stderr_to_devnull)


# ------------------------------------------------------------------------ CTC loss

class CTCLoss(keras.layers.Layer):
    """Per-utterance CTC loss of softmax outputs; the blank is index 28.

    Called on ``[labels (batch, max_label) int, probabilities (batch, frames_out,
    29), input_length (batch, 1) int, label_length (batch, 1) int]``; returns the
    loss of each utterance, shape ``(batch,)``, in nats.
    """

    def __init__(self, output_length, **kwargs):
        super().__init__(**kwargs)
        self.output_length = output_length

    def call(self, inputs):
        labels, probabilities, input_length, label_length = inputs
        output_length = self.output_length(ops.squeeze(input_length, -1))
        # ctc_loss normalises its input with a log-softmax, which leaves
        # log-probabilities unchanged.
        log_probabilities = ops.log(probabilities + keras.config.epsilon())
        return ops.ctc_loss(labels, log_probabilities, ops.squeeze(label_length, -1),
                            output_length, mask_index=BLANK_INDEX)


def add_ctc_loss(input_to_softmax):
    """Wrap an acoustic model so that its output is the CTC loss of each utterance.

    The returned model takes the four inputs served by ``CTCBatches``
    (``the_input``, ``the_labels``, ``input_length``, ``label_length``) and outputs
    ``ctc``, shape ``(batch,)``. Output frames come from ``input_to_softmax.output_length``.
    """
    labels = keras.Input(name="the_labels", shape=(None,), dtype="int32")
    input_length = keras.Input(name="input_length", shape=(1,), dtype="int32")
    label_length = keras.Input(name="label_length", shape=(1,), dtype="int32")
    loss = CTCLoss(input_to_softmax.output_length, name="ctc")(
        [labels, input_to_softmax.output, input_length, label_length])
    return keras.Model([input_to_softmax.input, labels, input_length, label_length], loss,
                       name=f"{input_to_softmax.name}_ctc")


def ctc_output_loss(y_true, y_pred):
    """Keras loss for ``add_ctc_loss`` models: the model's output already is the loss."""
    return y_pred


def default_optimizer():
    """SGD, learning rate 0.02 with inverse time decay 1e-6 per step, Nesterov momentum 0.9, clipnorm 5."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.02, decay_steps=1, decay_rate=1e-6)
    return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, clipnorm=5)


def cosine_adam(learning_rate, epochs, steps_per_epoch, clipnorm=5.0):
    """Adam whose learning rate falls from ``learning_rate`` to 0 along a cosine.

    Args:
        learning_rate: the starting rate.
        epochs, steps_per_epoch: the length of the run; the decay ends with it.
        clipnorm: gradients are rescaled to at most this norm (recurrent nets
            otherwise blow up now and then).
    """
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch)
    return keras.optimizers.Adam(schedule, clipnorm=clipnorm)


def check_label_lengths(input_to_softmax, utterances, features):
    """Refuse utterances whose transcript cannot fit in the model's output frames.

    CTC needs at least one output frame per character, plus one blank between two
    equal characters in a row. Raises ``ValueError`` naming the first such utterance.
    """
    for utterance, feature in zip(utterances, features):
        text = utterance["text"]
        needed = len(text) + sum(a == b for a, b in zip(text, text[1:]))
        frames = int(input_to_softmax.output_length(len(feature)))
        if frames < needed:
            raise ValueError(
                f"{utterance['key']}: the transcript needs {needed} output frames "
                f"({len(text)} characters) but {len(feature)} input frames give only {frames} "
                f"with model {input_to_softmax.name}. Remove the utterance from the corpus or "
                "use a model with less downsampling (a smaller conv stride).")


# ------------------------------------------------------------------------ training

class EpochRecorder(keras.callbacks.Callback):
    """Writes the history pickle after every epoch and the weights of the best one.

    The pickle holds ``loss``, ``val_loss``, ``seconds`` (per epoch) and
    ``learning_rate`` lists, ``best_epoch`` (1-based, lowest validation loss),
    the model's ``record`` and ``stopped`` (``None``, or why training stopped
    early). The weights file always holds the best epoch's weights (the last
    epoch's without a validation set). A NaN or infinite batch loss stops
    training before the epoch is recorded.
    """

    def __init__(self, acoustic_model, pickle_file, weights_file, record):
        super().__init__()
        self.acoustic_model, self.record = acoustic_model, record
        self.pickle_file, self.weights_file = Path(pickle_file), Path(weights_file)
        self.history, self.bad_loss_at = {}, None

    def on_train_begin(self, logs=None):
        self.history = {"loss": [], "val_loss": [], "seconds": [], "learning_rate": []}
        if self.pickle_file.is_file():  # resuming: keep the epochs already done
            with open(self.pickle_file, "rb") as stream:
                previous = pickle.load(stream)
            if previous.get("record", {}).get("build") == self.record["build"]:
                self.history.update({k: previous[k] for k in self.history})

    def on_epoch_begin(self, epoch, logs=None):
        for values in self.history.values():
            del values[epoch:]
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not math.isfinite(float(logs["loss"])):
            self.bad_loss_at = (len(self.history["loss"]) + 1, batch + 1)
            self.model.stop_training = True

    @property
    def best_epoch(self):
        """1-based epoch with the lowest validation loss so far (the last one without validation)."""
        val_loss = np.array(self.history["val_loss"], float)
        if len(val_loss) == 0:
            return 0
        return int(np.nanargmin(val_loss)) + 1 if np.isfinite(val_loss).any() else len(val_loss)

    def on_epoch_end(self, epoch, logs=None):
        if self.bad_loss_at:
            return
        self.history["loss"].append(float(logs["loss"]))
        self.history["val_loss"].append(float(logs.get("val_loss", math.nan)))
        self.history["seconds"].append(time.perf_counter() - self.started)
        self.history["learning_rate"].append(float(self.model.optimizer.learning_rate))
        if self.best_epoch == len(self.history["loss"]) or not self.weights_file.is_file():
            self.acoustic_model.save_weights(self.weights_file)
        self._write_pickle(stopped=None)

    def on_train_end(self, logs=None):
        if self.bad_loss_at and self.history["loss"]:
            epoch, batch = self.bad_loss_at
            self._write_pickle(stopped=f"NaN or infinite loss in epoch {epoch}, batch {batch}")

    def _write_pickle(self, stopped):
        partial = self.pickle_file.with_suffix(".partial")
        with open(partial, "wb") as stream:
            pickle.dump({**self.history, "best_epoch": self.best_epoch, "record": self.record,
                         "stopped": stopped}, stream)
        partial.replace(self.pickle_file)


def _machine():
    return f"{platform.machine()} {platform.processor() or 'CPU'}, {os.cpu_count()} cores"


def _project_path(path):
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)


def _file_sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path else None


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
                if k not in ("epochs", "machine", "versions", "feats_mean", "feats_std")}
    settings["optimizer"] = optimizer_settings(record.get("optimizer"))
    return json.loads(json.dumps(settings))  # tuples and lists compare alike


def _previous_run(pickle_file, weights_file):
    """The pickle of an earlier run that kept weights, or ``None``.

    A history without its weights (e.g. a reference run committed to git) is no
    work to keep: it is replaced by the new run.
    """
    if not pickle_file.is_file() or not weights_file.is_file():
        return None
    with open(pickle_file, "rb") as stream:
        previous = pickle.load(stream)
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
                         f"from ({_project_path(backup_dir)}) is gone. {replace}")
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
            layer's loop over the frames: Models 0-4 train 2-5x faster on a CPU.
            Convolution-heavy models can be faster without it (TensorFlow's own
            CPU convolutions beat XLA's), and each new batch shape costs a few
            seconds of compilation.

    Returns:
        The history dict also saved in the pickle.
    """
    if not str(save_model_path).endswith(".weights.h5"):
        raise ValueError(f"save_model_path must end in '.weights.h5' (Keras 3 weight files), "
                         f"got {save_model_path!r}.")
    pickle_file, weights_file = RESULTS_DIR / pickle_path, RESULTS_DIR / save_model_path
    backup_dir = RESULTS_DIR / "checkpoints" / str(save_model_path)[:-len(".weights.h5")]
    ensure_writable(pickle_file.parent, weights_file.parent, backup_dir.parent,
                    data_generator.CACHE_DIR)
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
    record = {
        "model": input_to_softmax.name,
        "build": dict(input_to_softmax.build_args),
        "params": input_to_softmax.count_params(),
        "features": data.featurizer.settings,
        "feats_mean": data.feats_mean.tolist(),
        "feats_std": data.feats_std.tolist(),
        "train_json": _project_path(train_json),
        "valid_json": _project_path(valid_json) if valid_json else None,
        "corpus_sha256": {"train": _file_sha256(train_json), "valid": _file_sha256(valid_json)},
        "train_utterances": len(data.train),
        "valid_utterances": len(data.valid),
        "max_duration": max_duration,
        "minibatch_size": minibatch_size,
        "jit_compile": jit_compile,
        "epochs": epochs,
        "optimizer": keras.optimizers.serialize(optimizer),
        "machine": _machine(),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }
    names = f"{_project_path(pickle_file)} and {_project_path(weights_file)}"
    previous = None if overwrite else _previous_run(pickle_file, weights_file)
    if getattr(input_to_softmax, "record", None) is not None and previous is None:
        raise ValueError(f"{input_to_softmax.name} already holds trained weights, so this run "
                         "would not start from scratch: build the model again (run the cell "
                         "that builds it), then train it.")
    if overwrite:
        for stale in (pickle_file, weights_file, _record_file(save_model_path)):
            stale.unlink(missing_ok=True)
        shutil.rmtree(backup_dir, ignore_errors=True)
    elif previous is not None:
        if _reuse_or_continue(previous, record, epochs, names, backup_dir) == "reuse":
            return _reuse(input_to_softmax, previous, weights_file)
        print(f"{input_to_softmax.name}: going on from epoch {len(previous['loss'])} of "
              f"{epochs} in {names}")
    _record_file(save_model_path).write_text(json.dumps(record, indent=1) + "\n")
    input_to_softmax.record = record
    recorder = EpochRecorder(input_to_softmax, pickle_file, weights_file, record)
    # The last epoch's state stays on disk, so that a longer run can go on from it.
    backup = keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False)
    model = add_ctc_loss(input_to_softmax)
    # Keras's jit_compile="auto" would leave XLA off on every CPU-only machine.
    model.compile(loss={"ctc": ctc_output_loss}, optimizer=optimizer, jit_compile=jit_compile)
    model.fit(data.train_batches(), validation_data=data.valid_batches() if data.valid else None,
              epochs=epochs, verbose=verbose, callbacks=[backup, recorder])
    done, best = len(recorder.history["loss"]), recorder.best_epoch
    if recorder.bad_loss_at:
        shutil.rmtree(backup_dir, ignore_errors=True)  # it holds the diverged weights
        epoch, batch = recorder.bad_loss_at
        advice = ("Lower the learning rate or clip gradients (clipnorm), then train again "
                  "with overwrite=True.")
        if done:
            print(f"Training stopped: the loss became NaN or infinite in epoch {epoch}, batch "
                  f"{batch}. The history of the {done} good epochs is kept in "
                  f"{_project_path(pickle_file)} and the weights of epoch {best} in "
                  f"{_project_path(weights_file)}; the model holds them. {advice}")
        else:
            print(f"Training stopped: the loss became NaN or infinite in epoch {epoch}, batch "
                  f"{batch}, before any epoch finished: nothing was saved, and the model's "
                  f"weights are unusable. Build the model again. {advice}")
    if best and (best != done or recorder.bad_loss_at):  # the model in memory is not the best
        input_to_softmax.load_weights(weights_file)
    if best and data.valid:
        print(f"{input_to_softmax.name}: kept epoch {best} of {done}, the lowest validation loss "
              f"({recorder.history['val_loss'][best - 1]:.2f}), in {_project_path(weights_file)}")
    return recorder.history


def _reuse(input_to_softmax, previous, weights_file):
    """Load a finished run's best weights into the model and return its history."""
    input_to_softmax.load_weights(weights_file)
    input_to_softmax.record = previous["record"]
    best, done = previous["best_epoch"], len(previous["loss"])
    how = f"stopped early ({previous['stopped']})" if previous.get("stopped") else "finished"
    print(f"{input_to_softmax.name}: a run of {done} epochs with these settings has {how}; "
          f"loaded its epoch {best} (validation loss {previous['val_loss'][best - 1]:.2f}) from "
          f"{_project_path(weights_file)} instead of training again (overwrite=True retrains).")
    return {key: previous[key] for key in ("loss", "val_loss", "seconds", "learning_rate")}


# ------------------------------------------------------------ reloading a model

def _record_file(weights_path):
    """``results/<name>.json`` beside ``results/<name>.weights.h5``."""
    return RESULTS_DIR / (str(weights_path)[:-len(".weights.h5")] + ".json")


def load_weights_checked(input_to_softmax, weights_path):
    """Load ``results/<weights_path>`` into a model built with the same arguments.

    Attaches the training record to ``input_to_softmax.record``.

    Raises:
        FileNotFoundError: no weights or record: train the model first.
        ValueError: the model was built with other arguments (or for other
            features) than the one trained; the differences are named.
    """
    weights_file, record_file = RESULTS_DIR / weights_path, _record_file(weights_path)
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
    input_to_softmax.load_weights(weights_file)
    input_to_softmax.record = record
    return input_to_softmax


def load_trained_model(weights_path):
    """Rebuild a trained model from its record in ``results/`` and load its weights."""
    record_file = _record_file(weights_path)
    if not record_file.is_file():
        raise FileNotFoundError(f"{record_file} is missing: train the model first.")
    build = dict(json.loads(record_file.read_text())["build"])
    model = getattr(sample_models, build.pop("factory"))(**build)
    return load_weights_checked(model, weights_path)


# --------------------------------------------------------- decoding and scoring

def greedy_decode(probabilities, output_lengths):
    """Best-path CTC decoding.

    Args:
        probabilities: ``(batch, frames, 29)`` per-frame character probabilities.
        output_lengths: ``(batch,)`` valid frames of each row.

    Returns:
        A list of ``batch`` strings: the most likely character per frame, repeats
        merged, blanks removed.
    """
    decoded, _ = ops.ctc_decode(probabilities, np.asarray(output_lengths, np.int32),
                                strategy="greedy", mask_index=BLANK_INDEX)
    return [int_sequence_to_text(row) for row in ops.convert_to_numpy(decoded[0])]


def _forward_pass(input_to_softmax):
    """The model's inference call, traced once for every batch size and frame count.

    Called eagerly, a recurrent layer steps through the frames in Python, some 30
    times slower than the traced loop.
    """
    if not hasattr(input_to_softmax, "_traced_forward_pass"):
        features = tf.TensorSpec((None, None, input_to_softmax.input_shape[-1]), tf.float32)
        traced = tf.function(lambda batch: input_to_softmax(batch, training=False),
                             input_signature=[features])
        # object.__setattr__: Keras would otherwise try to track the function as state.
        object.__setattr__(input_to_softmax, "_traced_forward_pass", traced)
    return input_to_softmax._traced_forward_pass


def predict_texts(input_to_softmax, features, batch_size=32, decode=greedy_decode):
    """Transcribe normalised feature arrays ``(frames_i, input_dim)``.

    Utterances are batched in order of length and padded, and the model is called
    on the padded batches, so any mix of lengths works. ``decode`` maps a batch's
    ``(batch, frames, 29)`` probabilities and ``(batch,)`` output lengths to texts:
    ``greedy_decode``, or ``beam_search.beam_decode`` with its decoder bound.
    Returns a list of strings in the order of ``features``.
    """
    order = np.argsort([len(f) for f in features], kind="stable")
    texts = [None] * len(features)
    for start in range(0, len(order), batch_size):
        members = order[start:start + batch_size]
        # Calling the model (not predict_on_batch) keeps every batch's own frame count.
        probabilities = _forward_pass(input_to_softmax)(pad_batch([features[i] for i in members]))
        lengths = input_to_softmax.output_length(np.array([len(features[i]) for i in members]))
        for i, text in zip(members, decode(ops.convert_to_numpy(probabilities), lengths)):
            texts[i] = text
    return texts


def _featurize_normalized(record, audio_paths):
    featurizer = Featurizer(**record["features"])
    mean, std = np.array(record["feats_mean"]), np.array(record["feats_std"])
    return [normalize(f, mean, std) for f in featurizer.corpus_features(audio_paths)]


def _record_of(input_to_softmax):
    record = getattr(input_to_softmax, "record", None)
    if record is None:
        raise ValueError(f"{input_to_softmax.name} has no training record: train it with "
                         "train_model() or load it with load_trained_model().")
    return record


def transcribe(audio_path, input_to_softmax):
    """Text of any audio file, decoded greedily by a trained model.

    The audio is resampled to the model's corpus rate and featurised and
    normalised exactly as its training data.
    """
    record = _record_of(input_to_softmax)
    features = Featurizer(**record["features"])(audio_path)
    mean, std = np.array(record["feats_mean"]), np.array(record["feats_std"])
    return predict_texts(input_to_softmax, [normalize(features, mean, std)])[0]


def evaluate_model(input_to_softmax, desc_file=None, max_duration=10.0):
    """Word and character error rates of greedy decoding over a whole corpus.

    Args:
        input_to_softmax: a trained model (with its ``record``).
        desc_file: description file; default: the model's validation corpus.

    Returns:
        dict with ``wer`` and ``cer`` (fractions), ``utterances``, and the
        lists ``truths`` and ``predictions``.
    """
    record = _record_of(input_to_softmax)
    if desc_file is None and record["valid_json"] is None:
        raise ValueError(f"{input_to_softmax.name} was trained without a validation corpus: "
                         "pass desc_file.")
    desc_file = desc_file or PROJECT_DIR / record["valid_json"]
    utterances = load_description_file(desc_file, max_duration)
    features = _featurize_normalized(record, [u["key"] for u in utterances])
    predictions = predict_texts(input_to_softmax, features)
    truths = [u["text"] for u in utterances]
    return {"wer": jiwer.wer(truths, predictions), "cer": jiwer.cer(truths, predictions),
            "utterances": len(utterances), "truths": truths, "predictions": predictions}


def get_predictions(index, partition, input_to_softmax, model_path):
    """Print the true and the predicted transcription of one utterance; return its audio player.

    Args:
        index: position of the utterance in the corpus.
        partition: ``'train'`` or ``'validation'``.
        input_to_softmax: a model built with the same arguments as the trained one.
        model_path: its weights file in ``results/``, e.g. ``'model_end.weights.h5'``.
    """
    from IPython.display import Audio

    if partition not in ("train", "validation"):
        raise ValueError(f"partition must be 'train' or 'validation', not {partition!r}.")
    record = load_weights_checked(input_to_softmax, model_path).record
    desc_file = PROJECT_DIR / record["train_json" if partition == "train" else "valid_json"]
    utterance = load_description_file(desc_file, record["max_duration"])[index]
    predicted = predict_texts(input_to_softmax,
                              _featurize_normalized(record, [utterance["key"]]))[0]
    print("-" * 80 + f"\nTrue transcription:\n{utterance['text']}\n" + "-" * 80
          + f"\nPredicted transcription:\n{predicted}\n" + "-" * 80)
    return Audio(utterance["key"])


# ---------------------------------------------------------------------- results

def load_history(pickle_path):
    """The history dict that ``train_model`` saved as ``results/<pickle_path>``."""
    with open(RESULTS_DIR / pickle_path, "rb") as stream:
        return pickle.load(stream)


def summary_table(names):
    """One row per trained model: size, features, time, losses, WER and CER.

    Args:
        names: result names as given to ``train_model`` without their suffixes,
            e.g. ``['model_0', 'model_end']`` for ``model_0.pickle`` and
            ``model_0.weights.h5``.

    Returns:
        A pandas DataFrame indexed by name; WER and CER in percent on each
        model's validation corpus (weights of the best epoch), seconds per
        epoch as measured in training (compilation included).
    """
    rows = {}
    for name in names:
        history = load_history(f"{name}.pickle")
        model = load_trained_model(f"{name}.weights.h5")
        record, scores = model.record, evaluate_model(model)
        features = record["features"]
        best = int(np.argmin(history["val_loss"]))
        rows[name] = {
            "parameters": record["params"],
            "features": (f"spectrogram ({model.input_shape[-1]})" if features["spectrogram"]
                         else f"MFCC ({features['mfcc_dim']})"),
            "epochs": len(history["loss"]),
            "s/epoch": round(float(np.mean(history["seconds"])), 1),
            "train min": round(float(np.sum(history["seconds"])) / 60, 1),
            "best val loss": round(history["val_loss"][best], 2),
            "best epoch": best + 1,
            "last val loss": round(history["val_loss"][-1], 2),
            "WER %": round(100 * scores["wer"], 2),
            "CER %": round(100 * scores["cer"], 2),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# ======================================================================
# Digit track (FSDD, CNN vs RNN)
# ======================================================================

DIGIT_BATCH_SIZE = 32  # the essay's batch: 85 steps per epoch on the 2,700 training images


class DigitEpochTimer(keras.callbacks.Callback):
    """Records the seconds each epoch spends training (its evaluation excluded), in ``seconds``."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.stopped = None

    def on_test_begin(self, logs=None):
        if self.stopped is None:  # during fit, evaluation begins when the epoch's training ends
            self.stopped = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append((self.stopped or time.perf_counter()) - self.started)


def _usable_cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def digit_machine():
    """What the timings were measured on: CPU description, its cores and the cores this
    process may use (TensorFlow's thread limit where one is set, else the cores it may run on)."""
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    return {"machine": _machine(), "cpu_count": os.cpu_count(),
            "cpus_used": threads or _usable_cpus()}


def native_bfloat16():
    """Whether this CPU has bfloat16 arithmetic instructions (AVX-512 BF16 or AMX), per /proc/cpuinfo."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def fit_digit_model(factory, train, test, epochs, seed=0, learning_rate=1e-3, cosine=False,
                    batch_size=DIGIT_BATCH_SIZE, precision="auto", verbose=0):
    """Build a digit classifier, train it with Adam and test it after every epoch.

    Args:
        factory: a ``sample_models`` digit factory (``essay_cnn``, ``digit_cnn``...),
            called without arguments; or a ``functools.partial`` of one.
        train, test: ``data_generator.DigitImages``.
        epochs: epochs to train.
        seed: seeds weights, shuffling, dropout and augmentation
            (``keras.utils.set_random_seed``).
        learning_rate: Adam's (initial) learning rate.
        cosine: decay the learning rate to 0 over the run along a cosine.
        batch_size: images per step.
        precision: Keras dtype policy the model is built with: ``'float32'``,
            ``'mixed_bfloat16'`` (bfloat16 arithmetic, float32 weights: about
            twice as fast for convolutions on CPUs with bfloat16 instructions,
            slower on others), or ``'auto'``: the latter where
            ``native_bfloat16()``, else float32. ``run['precision']`` is the
            policy used.
        verbose: Keras progress display (0, 1 or 2).

    Returns:
        ``(model, run)``. ``run`` is a dict: ``model`` (name), ``params``,
        ``seed``, ``epochs``, ``learning_rate``, ``cosine``, ``batch_size``,
        ``train_size``, ``test_size``, per-epoch lists ``loss``, ``accuracy``
        (training), ``test_loss``, ``test_accuracy`` (fractions) and ``seconds``
        (training only, evaluation excluded); ``predictions`` (test labels
        predicted after the last epoch, int ``(test_size,)``), ``probabilities``
        (their class probabilities, float32 ``(test_size, 10)``) and the machine
        fields of ``digit_machine()``. The test set is only watched: nothing is
        chosen by it, and the reported accuracy is that after the last epoch.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"empty split: {len(train)} training and {len(test)} test images.")
    keras.utils.set_random_seed(seed)
    if precision == "auto":
        precision = "mixed_bfloat16" if native_bfloat16() else "float32"
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        model = factory()
    finally:
        keras.config.set_dtype_policy(previous)
    steps = math.ceil(len(train) / batch_size) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps) if cosine \
        else learning_rate
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=False)  # XLA is slower here on CPUs
    timer = DigitEpochTimer()
    history = model.fit(ImageBatches(train, batch_size, shuffle=True, seed=seed), epochs=epochs,
                        validation_data=ImageBatches(test, 256, shuffle=False),
                        callbacks=[timer], verbose=verbose)
    # float32: bfloat16 logits under a mixed policy give probabilities that sum to 0.99
    logits = model.predict(test.images, batch_size=256, verbose=0).astype(np.float32)
    run = {"model": model.name, "params": model.count_params(), "seed": seed, "epochs": epochs,
           "learning_rate": learning_rate, "cosine": cosine, "batch_size": batch_size,
           "precision": precision,
           "train_size": len(train), "test_size": len(test),
           "loss": history.history["loss"], "accuracy": history.history["accuracy"],
           "test_loss": history.history["val_loss"],
           "test_accuracy": history.history["val_accuracy"],
           "seconds": timer.seconds, "predictions": logits.argmax(axis=1),
           "probabilities": keras.ops.convert_to_numpy(keras.ops.softmax(logits)),
           **digit_machine()}
    return model, run


def ensemble_accuracy(runs, labels):
    """Test accuracy of several models voting with their averaged class probabilities.

    Args:
        runs: ``fit_digit_model`` runs of different models on the same test images.
        labels: int ``(test_size,)``, the true digits of those images.

    Returns:
        The fraction of test images whose highest mean probability is the true digit.
    """
    probabilities = [run["probabilities"] for run in runs]
    if any(p.shape != (len(labels), sample_models.DIGIT_CLASSES) for p in probabilities):
        raise ValueError(f"runs tested on {[len(p) for p in probabilities]} images; "
                         f"labels has {len(labels)}: pass runs tested on the same images.")
    return float(np.mean(np.mean(probabilities, axis=0).argmax(axis=1) == labels))


def summarize_vote(runs, labels, experiment):
    """One summary row (as ``summarize_runs``) for ``runs`` of different models voting.

    Args:
        runs: single-seed runs of different models on the same test images.
        labels: int ``(test_size,)``, the true digits of those images.
        experiment: a label, e.g. ``'unseen speaker lucas'``.

    Returns:
        dict: ``experiment``, ``model`` (the models joined by ' + '), ``epochs``
        and ``seeds`` (of the first run), ``runs`` (1), the vote's accuracy in
        percent as ``accuracy_mean`` / ``_min`` / ``_max`` (``accuracy_std`` 0)
        and ``train_s_mean``, the training seconds of all the runs together.
    """
    accuracy = 100 * ensemble_accuracy(runs, labels)
    return {"experiment": experiment, "model": " + ".join(run["model"] for run in runs),
            "epochs": runs[0]["epochs"], "runs": 1, "seeds": str(runs[0]["seed"]),
            **dict.fromkeys(("accuracy_mean", "accuracy_min", "accuracy_max"), accuracy),
            "accuracy_std": 0.0, "train_s_mean": sum(training_seconds(run) for run in runs)}


def _factory_name(factory):
    """A model factory's function name, through a ``functools.partial`` too (for progress bars)."""
    return getattr(factory, "func", factory).__name__


def repeat_seeds(factory, train, test, epochs, seeds, **fit_args):
    """Train the same configuration once per seed (``fit_digit_model``); return the list of runs."""
    return [fit_digit_model(factory, train, test, epochs, seed, **fit_args)[1]
            for seed in tqdm(seeds, desc=f"{_factory_name(factory)} seeds", unit="run")]


def training_seconds(run, epochs=None):
    """Seconds spent training the first ``epochs`` epochs of a run (all of them by default)."""
    return float(np.sum(run["seconds"][:epochs]))


def time_to_accuracy(run, target):
    """``(epoch, seconds)``: first epoch whose test accuracy reaches ``target`` (a fraction)
    and the training seconds until its end; ``(nan, nan)`` if the run never reaches it."""
    reached = np.flatnonzero(np.asarray(run["test_accuracy"]) >= target)
    if len(reached) == 0:
        return math.nan, math.nan
    return int(reached[0]) + 1, training_seconds(run, reached[0] + 1)


def summarize_runs(runs, experiment, epochs=None, target=None):
    """One summary row of a configuration trained with several seeds.

    Args:
        runs: runs of ``fit_digit_model`` with the same model and settings.
        experiment: a label, e.g. ``'official split'``.
        epochs: read accuracy and time after this epoch (default: the last).
        target: also report the time to reach this test accuracy (fraction).

    Returns:
        dict: ``experiment``, ``model``, ``epochs``, ``runs``, ``seeds``,
        ``accuracy_mean`` / ``accuracy_std`` / ``accuracy_min`` / ``accuracy_max``
        (test accuracy in percent; the std is the sample standard deviation over
        seeds, 0 for a single run), ``train_s_mean`` (training seconds for those
        epochs), ``s_per_epoch`` (median seconds of an epoch after the first,
        which also traces the model), with ``target``: ``reached_<t>%`` (runs
        reaching it), ``epochs_to_<t>%`` and ``s_to_<t>%`` (mean epochs and
        training seconds those runs needed), and the
        run settings and machine fields.
    """
    epochs = epochs or runs[0]["epochs"]
    if any(epochs > run["epochs"] for run in runs):
        raise ValueError(f"asked for epoch {epochs} but a run has only {min(r['epochs'] for r in runs)}.")
    accuracy = 100 * np.array([run["test_accuracy"][epochs - 1] for run in runs])
    later = np.concatenate([run["seconds"][1:] or run["seconds"] for run in runs])
    first = runs[0]
    row = {"experiment": experiment, "model": first["model"], "epochs": epochs,
           "runs": len(runs), "seeds": " ".join(str(run["seed"]) for run in runs),
           "accuracy_mean": accuracy.mean(),
           "accuracy_std": accuracy.std(ddof=1) if len(runs) > 1 else 0.0,
           "accuracy_min": accuracy.min(), "accuracy_max": accuracy.max(),
           "train_s_mean": np.mean([training_seconds(run, epochs) for run in runs]),
           "s_per_epoch": float(np.median(later))}
    if target is not None:
        reached = [time_to_accuracy(run, target) for run in runs]
        hits = [(epoch, seconds) for epoch, seconds in reached if not math.isnan(epoch)]
        row[f"reached_{100 * target:g}%"] = len(hits)
        row[f"epochs_to_{100 * target:g}%"] = np.mean([e for e, _ in hits]) if hits else math.nan
        row[f"s_to_{100 * target:g}%"] = np.mean([s for _, s in hits]) if hits else math.nan
    keys = ("params", "learning_rate", "cosine", "batch_size", "precision", "train_size",
            "test_size", "machine", "cpu_count", "cpus_used")
    return {**row, **{key: first[key] for key in keys}}


def _limit_threads(threads):
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _held_out_run(factory, train, test, epochs, seed, speaker, fit_args):
    return {**fit_digit_model(factory, train, test, epochs, seed, **fit_args)[1],
            "held_out": speaker}


def leave_one_speaker_out(factory, data, epochs, seed=0, speakers=None, processes=None,
                          **fit_args):
    """Train on every speaker but one and test on that one, for each speaker in turn.

    The runs are independent, so they train side by side in ``processes`` worker
    processes, each limited to its share of the cores: small models leave cores
    idle between their small operations. On 2 cores, two one-thread runs at a
    time took the digit notebook's six configurations 537 s, where the same
    models and epochs took 637 s one after the other with both cores; the RNNs
    gain, the essay CNN (whose bfloat16 convolutions keep both cores busy) does
    not. The runs' ``seconds`` are therefore those of a shared machine
    (``cpus_used`` says how many threads each had): time models on
    ``fit_digit_model`` alone. Workers are spawned and import the main module,
    so a script must call this under ``if __name__ == "__main__":``.

    Args:
        factory: a ``sample_models`` digit factory (see ``fit_digit_model``); it is
            sent to the workers, so a module-level function or a ``functools.partial``.
        data: all recordings, a ``data_generator.DigitImages``.
        epochs, seed, fit_args: as for ``fit_digit_model``.
        speakers: the speakers to hold out (default: all, in sorted order).
        processes: runs trained at once (default: one per usable core, at most
            one per speaker).

    Returns:
        dict speaker -> run (``fit_digit_model``'s dict plus ``held_out``).
    """
    speakers = sorted(set(data.speakers)) if speakers is None else list(speakers)
    processes = min(len(speakers), processes or _usable_cpus())
    # "spawn", not "fork": a forked child would inherit this process's running TensorFlow threads.
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_limit_threads,
                             initargs=(max(1, _usable_cpus() // processes),)) as pool:
        # Workers start on submit and inherit stderr: without this, each would print
        # TensorFlow's start-up log into the notebook. Their errors still reach us.
        with stderr_to_devnull():
            futures = [pool.submit(_held_out_run, factory, *speaker_split(data, speaker), epochs,
                                   seed, speaker, fit_args) for speaker in speakers]
        for _ in tqdm(as_completed(futures), total=len(futures), unit="speaker",
                      desc=f"{_factory_name(factory)} LOSO"):
            pass
        return {speaker: future.result() for speaker, future in zip(speakers, futures)}


def confusion_matrix(labels, predictions, classes=10):
    """Counts ``(classes, classes)``: row = true digit, column = predicted digit."""
    return sklearn.metrics.confusion_matrix(labels, predictions, labels=np.arange(classes))


def misclassified(test, runs):
    """Test recordings that runs got wrong, most often wrong first.

    Args:
        test: the ``DigitImages`` the runs were tested on.
        runs: runs of ``fit_digit_model`` on ``test``.

    Returns:
        A pandas DataFrame: ``index`` (position in ``test``), ``path``, ``speaker``,
        ``digit``, ``predicted`` (the most frequent wrong answer), ``wrong_in``
        (how many runs erred).
    """
    predictions = np.stack([run["predictions"] for run in runs])
    if predictions.shape[1] != len(test):
        raise ValueError(f"the runs predicted {predictions.shape[1]} recordings, "
                         f"the test set has {len(test)}.")
    wrong = predictions != test.labels
    rows = []
    for index in np.flatnonzero(wrong.any(axis=0)):
        answers = predictions[wrong[:, index], index]
        rows.append({"index": int(index), "path": test.paths[index],
                     "speaker": test.speakers[index], "digit": int(test.labels[index]),
                     "predicted": int(np.bincount(answers).argmax()),
                     "wrong_in": int(wrong[:, index].sum())})
    columns = ["index", "path", "speaker", "digit", "predicted", "wrong_in"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["wrong_in", "index"], ascending=[False, True], ignore_index=True)


def save_digit_runs(runs, name):
    """Pickle runs (a list, or a dict such as ``leave_one_speaker_out``'s) to ``results/<name>.pickle``.

    Every run carries its model, seed, epochs, per-epoch seconds and the machine
    (CPU, cores) it was timed on. Returns the path written.
    """
    path = RESULTS_DIR / f"{name}.pickle"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        pickle.dump(runs, stream)
    return path


def load_digit_runs(name):
    """The runs saved by ``save_digit_runs(runs, name)``."""
    path = RESULTS_DIR / f"{name}.pickle"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the digit notebook first.")
    with open(path, "rb") as stream:
        return pickle.load(stream)


def write_digit_summary(rows, name="digits_summary"):
    """Write summary rows (``summarize_runs``) to ``results/<name>.csv``; return them as a DataFrame."""
    table = pd.DataFrame(rows)
    path = RESULTS_DIR / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.4f")
    return table


def plot_digit_curves(runs_by_label, title="Test accuracy per epoch", essay=None):
    """Mean test accuracy per epoch (band: one std over seeds) of each configuration.

    Args:
        runs_by_label: dict label -> list of runs (``fit_digit_model``).
        title: figure title.
        essay: optional dict label -> {epochs: accuracy percent}, drawn as markers.

    Returns:
        The matplotlib figure.
    """
    fig, ax = plt.subplots(figsize=(9, 5))
    for label, runs in runs_by_label.items():
        accuracy = 100 * np.array([run["test_accuracy"] for run in runs])
        epochs = np.arange(1, accuracy.shape[1] + 1)
        line, = ax.plot(epochs, accuracy.mean(axis=0), label=f"{label} (mean of {len(runs)})")
        ax.fill_between(epochs, accuracy.mean(axis=0) - accuracy.std(axis=0),
                        accuracy.mean(axis=0) + accuracy.std(axis=0), alpha=0.2,
                        color=line.get_color())
    for label, points in (essay or {}).items():
        ax.plot(list(points), list(points.values()), "o--", label=f"{label} (essay)")
    ax.set(title=title, xlabel="epoch", ylabel="test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_confusion(matrix, title="Confusion matrix"):
    """Heat map of a ``(10, 10)`` confusion matrix, counts written in the cells; returns the figure."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", mask=matrix == 0, linewidths=0.5,
                linecolor="0.9", cbar_kws={"label": "recordings"}, ax=ax)
    ax.set(title=title, xlabel="predicted digit", ylabel="true digit")
    return fig


if __name__ == "__main__":
    refuse_to_run_as_command("train_utils")
