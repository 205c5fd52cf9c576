"""Training with CTC: the acoustic-model stage of the VUI track.

``add_ctc_loss`` wraps an acoustic model with the CTC loss; ``train_model`` trains
it on a corpus and keeps everything in ``results/``: the history pickle, written
after every epoch, the weights of the best epoch, and a JSON record of how the
model was made. A finished run is never replaced silently: running the same call
again reuses it, a longer run goes on from it. ``load_trained_model`` rebuilds a
trained model from its record. Decoding and scoring live in ``decoding.py``.
"""

import json
import math
import pickle
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import sample_models
from char_map import BLANK_INDEX, char_map
from data_generator import DIGITS_TRAIN_JSON, DIGITS_VALID_JSON, AudioGenerator
import plumbing
from plumbing import (atomic_path, ensure_writable, file_sha256, machine_description, project_path,
                      refuse_to_run_as_command)


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
        # A masked model's probabilities carry their padding mask; the lengths already
        # say which frames count, and the per-utterance loss has no frames to mask.
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def call(self, inputs):
        labels, probabilities, input_length, label_length = inputs
        output_length = self.output_length(ops.squeeze(input_length, -1))
        # ctc_loss normalises its input with a log-softmax, which leaves
        # log-probabilities unchanged.
        log_probabilities = ops.log(probabilities + keras.config.epsilon())
        return ops.ctc_loss(labels, log_probabilities, ops.squeeze(label_length, -1),
                            output_length, mask_index=BLANK_INDEX)


BLANK_SYMBOL = "_"  # how the blank is written in a frame-by-frame path


def ctc_alignments(text, frames):
    """Every frame path of ``frames`` symbols that CTC collapses to ``text``.

    A path holds one character of ``text`` or the blank (``_``) per frame;
    merging its repeats and then dropping its blanks must give ``text``. The
    paths are the alignments whose probabilities the CTC loss sums; their number
    grows fast, so keep ``text`` and ``frames`` small (a worked example).
    """
    from itertools import product

    paths = ("".join(path) for path in product(sorted(set(text)) + [BLANK_SYMBOL], repeat=frames))
    return [path for path in paths if collapse_path(path)[1] == text]


def collapse_path(path):
    """``(merged, text)``: a frame path with repeats merged, then with its blanks dropped.

    ``"tt_hhr_ee"`` -> ``("t_hr_e", "thre")``: CTC's rule, which is why a doubled
    letter needs a blank between its two frames.
    """
    merged = "".join(symbol for i, symbol in enumerate(path) if i == 0 or symbol != path[i - 1])
    return merged, merged.replace(BLANK_SYMBOL, "")


def symbol_index(symbol):
    """Class index of a character, or of the blank written ``_``."""
    return BLANK_INDEX if symbol == BLANK_SYMBOL else char_map[symbol]


def toy_probabilities(columns):
    """``(frames, 29)`` probabilities from ``{symbol: [probability per frame]}``, 0 elsewhere.

    For worked examples: ``{"a": [...], "b": [...], "_": [...]}`` with each frame's
    probabilities summing to 1.
    """
    frames = len(next(iter(columns.values())))
    probabilities = np.zeros((frames, BLANK_INDEX + 1), np.float32)
    for symbol, column in columns.items():
        probabilities[:, symbol_index(symbol)] = column
    return probabilities


def path_probability(probabilities, path):
    """Probability of one frame path (``"aa_b"``) under ``(frames, 29)`` probabilities."""
    return float(np.prod([probabilities[t, symbol_index(s)] for t, s in enumerate(path)]))


def ctc_loss_of(probabilities, text):
    """CTC loss in nats of one utterance's ``(frames, 29)`` probabilities for ``text``.

    Computed by ``CTCLoss`` (``keras.ops.ctc_loss``, blank 28) exactly as in training.
    """
    labels = np.array([[symbol_index(c) for c in text]], np.int32)
    loss = CTCLoss(lambda frames: frames)([labels, np.asarray(probabilities, np.float32)[None],
                                           np.array([[len(probabilities)]], np.int32),
                                           np.array([[len(text)]], np.int32)])
    return float(ops.convert_to_numpy(loss)[0])


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


def frames_needed(text):
    """The fewest output frames CTC can spell ``text`` in: a frame per character, plus
    one blank between two equal characters in a row."""
    return len(text) + sum(a == b for a, b in zip(text, text[1:]))


def check_label_lengths(input_to_softmax, utterances, features):
    """Refuse utterances whose transcript cannot fit in the model's output frames.

    CTC needs at least one output frame per character, plus one blank between two
    equal characters in a row. Raises ``ValueError`` naming the first such utterance.
    """
    for utterance, feature in zip(utterances, features):
        text = utterance["text"]
        needed = frames_needed(text)
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
        with atomic_path(self.pickle_file) as partial, open(partial, "wb") as stream:
            pickle.dump({**self.history, "best_epoch": self.best_epoch, "record": self.record,
                         "stopped": stopped}, stream)


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
        _report_divergence(recorder, pickle_file, weights_file)
    if best and (best != done or recorder.bad_loss_at):  # the model in memory is not the best
        input_to_softmax.load_weights(weights_file)
    if best and data.valid:
        print(f"{input_to_softmax.name}: kept epoch {best} of {done}, the lowest validation loss "
              f"({recorder.history['val_loss'][best - 1]:.2f}), in {project_path(weights_file)}")
    return recorder.history


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
    input_to_softmax.load_weights(weights_file)
    input_to_softmax.record = previous["record"]
    best, done = previous["best_epoch"], len(previous["loss"])
    how = f"stopped early ({previous['stopped']})" if previous.get("stopped") else "finished"
    val_loss = previous["val_loss"][best - 1]
    scored = "" if np.isnan(val_loss) else f" (validation loss {val_loss:.2f})"  # nan: no validation
    print(f"{input_to_softmax.name}: a run of {done} epochs with these settings has {how}; "
          f"loaded its epoch {best}{scored} from "
          f"{project_path(weights_file)} instead of training again (overwrite=True retrains).")
    return {key: previous[key] for key in ("loss", "val_loss", "seconds", "learning_rate")}


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
    input_to_softmax.load_weights(weights_file)
    input_to_softmax.record = record
    return input_to_softmax


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
    with open(plumbing.RESULTS_DIR / pickle_path, "rb") as stream:
        return pickle.load(stream)


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


def plot_loss_curves(histories, highlight=None):
    """Training and validation CTC loss per epoch of each model, side by side.

    The loss axis is logarithmic with ticks at 1, 2 and 5 times each power of ten, so
    values below 1 stay readable; the legend sits outside the axes, clear of the curves.

    Args:
        histories: ``{name: history}`` as ``load_histories`` returns it.
        highlight: a name whose curves are drawn thicker.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure, axes = plt.subplots(1, 2, figsize=(14, 5), sharey=True, layout="constrained")
    for name, history in histories.items():
        for ax, key in zip(axes, ("loss", "val_loss")):
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], marker=".", label=name,
                    linewidth=3 if name == highlight else 1.5)
    for ax, title in zip(axes, ("Training loss", "Validation loss")):
        ax.set(title=title, xlabel="epoch", yscale="log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("CTC loss (nats per utterance)")
    axes[1].legend(title="model", loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure


if __name__ == "__main__":
    refuse_to_run_as_command("train_utils")
