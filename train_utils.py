"""Training with CTC: the acoustic-model stage of the VUI track.

``train_model`` wraps an acoustic model with the CTC loss (``ctc.add_ctc_loss``),
trains it on a corpus and keeps everything in ``results/``: the history pickle, written
after every epoch, the weights of the best epoch, and a JSON record of how the
model was made. A finished run is never replaced silently: running the same call
again reuses it, a longer run goes on from it. ``train_in_workers`` trains several
models side by side. Reading runs back is ``trained_models.py``'s; decoding and
scoring are ``decoding.py``'s.
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
from ctc import add_ctc_loss, check_label_lengths, ctc_output_loss, predict_texts
from data_generator import DIGITS_TRAIN_JSON, DIGITS_VALID_JSON, AudioGenerator
from trained_models import load_weights_file, rebuild, record_file_of, read_history
from plumbing import atomic_path, ensure_writable, file_sha256, machine_description, project_path


PRECISIONS = ("float32", "mixed_float16")


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
        self.history["learning_rate"].append(float(keras.ops.convert_to_numpy(
            self.model.optimizer.learning_rate)))
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
    settings = {"replicas": 1, "precision": "float32"}  # records written before these keys
    settings.update((k, v) for k, v in record.items() if k not in ("epochs", "machine", "versions"))
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
        raise ValueError(f"{names} already hold a run of {_epochs(done)} with other settings "
                         f"(different: {', '.join(different)}). {replace}")
    if previous.get("stopped") or done == epochs:
        return "reuse"
    if done > epochs:
        raise ValueError(f"{names} already hold {_epochs(done)} of these settings, more than the "
                         f"{epochs} asked for. {replace}")
    if not backup_dir.is_dir():
        raise ValueError(f"{names} hold {done} of {epochs} epochs, but the checkpoint to go on "
                         f"from ({project_path(backup_dir)}) is gone. {replace}")
    return "continue"


def train_model(input_to_softmax, pickle_path, save_model_path, train_json=DIGITS_TRAIN_JSON,
                valid_json=DIGITS_VALID_JSON, minibatch_size=20, spectrogram=True, mfcc_dim=13,
                optimizer=None, epochs=20, verbose=1, sort_by_duration=False, max_duration=10.0,
                jit_compile=True, overwrite=False, strategy=None, precision="float32"):
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
        strategy: a ``tf.distribute`` strategy that trains on several devices,
            e.g. ``tf.distribute.MirroredStrategy()`` over a machine's GPUs (None:
            one device). ``minibatch_size`` is then per replica: each step trains
            ``minibatch_size`` times the replicas' number of utterances, split
            evenly across them, so build ``optimizer`` for that global batch
            (``train.py --devices`` raises the learning rate with the square root
            of the replicas). The model is rebuilt and compiled in the strategy's
            scope, the kept weights are loaded back into ``input_to_softmax``, and
            the record says how many replicas trained it.
        precision: ``'float32'``, or ``'mixed_float16'`` (Keras's mixed precision:
            float16 computations, float32 weights, the softmax and the CTC loss in
            float32, the loss scaled against underflow). It pays on GPUs with
            tensor cores and is slower on CPUs; ``benchmarks/speed.py --precision``
            measures it. The model is then rebuilt under that policy to train, and
            the kept weights (float32) are loaded back into ``input_to_softmax``.

    Returns:
        The history dict also saved in the pickle.
    """
    if not str(save_model_path).endswith(".weights.h5"):
        raise ValueError(f"save_model_path must end in '.weights.h5' (Keras 3 weight files), "
                         f"got {save_model_path!r}.")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a whole number, at least 1; got {epochs!r}.")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    results = plumbing.RESULTS_DIR
    pickle_file, weights_file = results / pickle_path, results / save_model_path
    backup_dir = results / "checkpoints" / str(save_model_path)[:-len(".weights.h5")]
    ensure_writable(pickle_file.parent, weights_file.parent, backup_dir.parent,
                    plumbing.CACHE_DIR)
    replicas = strategy.num_replicas_in_sync if strategy else 1
    data = AudioGenerator(train_json, valid_json, spectrogram, mfcc_dim, minibatch_size * replicas,
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
    record.update(replicas=replicas, precision=precision)
    names = f"{project_path(pickle_file)} and {project_path(weights_file)}"
    previous = None if overwrite else _previous_run(pickle_file, weights_file)
    if getattr(input_to_softmax, "record", None) is not None and previous is None:
        raise ValueError(f"{input_to_softmax.name} already holds trained weights, so this run "
                         "would not start from scratch: build the model again (run the cell "
                         "that builds it), then train it.")
    if overwrite:
        for stale in (pickle_file, weights_file, record_file_of(save_model_path)):
            stale.unlink(missing_ok=True)
    if previous is None:  # a checkpoint of no kept run would be restored instead of training
        shutil.rmtree(backup_dir, ignore_errors=True)
    else:
        if _reuse_or_continue(previous, record, epochs, names, backup_dir) == "reuse":
            return _reuse(input_to_softmax, previous, weights_file)
        print(f"{input_to_softmax.name}: going on from epoch {len(previous['loss'])} of "
              f"{epochs} in {names}")
    record_file_of(save_model_path).write_text(json.dumps(record, indent=1) + "\n")
    input_to_softmax.record = record
    valid = (data.valid_features, [u["text"] for u in data.valid]) if data.valid else None
    trainee = input_to_softmax
    rebuilt = strategy is not None or precision != "float32"
    with strategy.scope() if strategy else contextlib.nullcontext(), dtype_policy(precision):
        if rebuilt:  # variables mirrored in the strategy's scope, layers of the policy
            trainee = rebuild(input_to_softmax.build_args)
            trainee.set_weights(input_to_softmax.get_weights())
            optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        model = add_ctc_loss(trainee)
        # Keras's jit_compile="auto" would leave XLA off on every CPU-only machine.
        model.compile(loss={"ctc": ctc_output_loss}, optimizer=optimizer, jit_compile=jit_compile)
    recorder = EpochRecorder(trainee, pickle_file, weights_file, record, valid)
    # The last epoch's state stays on disk, so that a longer run can go on from it. It is
    # saved after the recorder's files: a run killed between the two trains that epoch again.
    backup = keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False)
    _check_checkpoint(backup_dir, names)
    batches = [data.train_batches(), data.valid_batches() if data.valid else None]
    if strategy:  # whole batches, which the strategy splits across its replicas
        batches = [as_dataset(b, data.input_dim) if b else None for b in batches]
    # shuffle=False: CTCBatches draws its own order every epoch, its first two batches
    # the shortest and the longest (so that Keras keeps the frame axis variable).
    model.fit(batches[0], validation_data=batches[1], epochs=epochs, verbose=verbose,
              callbacks=[recorder, backup], shuffle=False)
    done, best = len(recorder.history["loss"]), recorder.best_epoch
    if recorder.bad_loss_at:
        shutil.rmtree(backup_dir, ignore_errors=True)  # it holds the diverged weights
        _report_divergence(recorder, pickle_file, weights_file)
    if best and (best != done or recorder.bad_loss_at or rebuilt):  # not the kept weights
        input_to_softmax.load_weights(weights_file)
    if best and data.valid:
        print(f"{input_to_softmax.name}: kept epoch {best} of {done}, the lowest validation WER "
              f"({recorder.history['val_wer'][best - 1]:.2f}%, greedy; validation loss "
              f"{recorder.history['val_loss'][best - 1]:.2f}), in {project_path(weights_file)}")
    return recorder.history


@contextlib.contextmanager
def dtype_policy(name):
    """Build the layers made in this block under Keras's dtype policy ``name``."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def as_dataset(batches, input_dim):
    """``CTCBatches`` as a ``tf.data.Dataset`` of the same batches, new order every epoch.

    A strategy splits each batch of a dataset across its replicas; given the
    ``PyDataset`` itself, Keras would hand each replica a batch of its own.
    """
    def generate():  # the order of Keras's own epochs over a PyDataset: drawn anew first
        batches.on_epoch_end()
        yield from (batches[i] for i in range(len(batches)))

    spec = ({"the_input": tf.TensorSpec((None, None, input_dim), tf.float32),
             "the_labels": tf.TensorSpec((None, None), tf.int32),
             "input_length": tf.TensorSpec((None, 1), tf.int32),
             "label_length": tf.TensorSpec((None, 1), tf.int32)},
            tf.TensorSpec((None,), tf.float32))
    return tf.data.Dataset.from_generator(generate, output_signature=spec).prefetch(2)


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


def _epochs(count):
    """``'1 epoch'``, ``'3 epochs'``."""
    return f"{count} epoch" + ("" if count == 1 else "s")


def _reuse(input_to_softmax, previous, weights_file):
    """Load a finished run's best weights into the model and return its history."""
    load_weights_file(input_to_softmax, weights_file)
    input_to_softmax.record = previous["record"]
    best, done = previous["best_epoch"], len(previous["loss"])
    how = f"stopped early ({previous['stopped']})" if previous.get("stopped") else "finished"
    wer = previous.get("val_wer", [math.nan] * done)[best - 1]
    scored = "" if np.isnan(wer) else f" (validation WER {wer:.2f}%)"  # nan: no validation
    print(f"{input_to_softmax.name}: a run of {_epochs(done)} with these settings has {how}; "
          f"loaded its epoch {best}{scored} from "
          f"{project_path(weights_file)} instead of training again (overwrite=True retrains).")
    return {key: previous.get(key, []) for key in EpochRecorder.KEYS}


def _train_job(build_args, name, folders, seed, learning_rate, warmup_epochs, settings):
    """One model, in a worker: build it from its ``build_args`` and train it with ``train_model``."""
    plumbing.RESULTS_DIR, plumbing.CACHE_DIR = folders  # the caller's folders, not the defaults
    keras.utils.set_random_seed(seed)
    model = rebuild(build_args)
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


