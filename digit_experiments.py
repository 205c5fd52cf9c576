"""The digit track's experiments: train, repeat over seeds, hold speakers out, summarise.

``fit_digit_model`` trains one digit classifier (``sample_models.essay_cnn`` ...)
on FSDD images and tests it after every epoch. Around it, the harness that the
digit notebook's questions need: the same configuration over several seeds
(``repeat_seeds``), leave one speaker out over seeds with the runs trained side
by side in worker processes (``leave_one_speaker_out``), how fast a configuration
trains and reaches an accuracy (``speed_summary``), which runs diverged, summary
rows, and the runs' pickles in ``results/``. Tables, verdicts and figures are in
``digit_reports.py``.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("digit_experiments")

import math
import os
import pickle
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

import plumbing
from digit_images import ImageBatches, speaker_split
from plumbing import atomic_path, machine_description, run_in_workers, usable_cpus

DIGIT_BATCH_SIZE = 32  # the essay's batch: 85 steps per epoch on the 2,700 training images
# A run has diverged when its training loss exceeds ten times chance (ln 10 nats for 10 digits).
DIVERGED_LOSS = 10 * math.log(10)


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


def digit_machine():
    """What the timings were measured on: CPU description, its cores and the cores this
    process may use (TensorFlow's thread limit where one is set, else the cores it may run on)."""
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    return {"machine": machine_description(), "cpu_count": os.cpu_count(),
            "cpus_used": threads or usable_cpus()}


def native_bfloat16():
    """Whether this CPU has bfloat16 arithmetic instructions (AVX-512 BF16 or AMX), per /proc/cpuinfo."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def fit_digit_model(factory, train, test, epochs, seed=0, learning_rate=1e-3, cosine=False,
                    batch_size=DIGIT_BATCH_SIZE, precision="float32", verbose=0):
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
        precision: Keras dtype policy the model is built with: ``'float32'``
            (every CPU), ``'mixed_bfloat16'`` (bfloat16 arithmetic, float32 weights:
            faster convolutions on CPUs with bfloat16 instructions, slower ones on
            others), or ``'auto'``: the latter where ``native_bfloat16()``, else
            float32. ``run['precision']`` is the policy used.
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


def _factory_name(factory):
    """A model factory's function name, through a ``functools.partial`` too (for progress bars)."""
    return getattr(factory, "func", factory).__name__


def repeat_seeds(factory, train, test, epochs, seeds, **fit_args):
    """Train the same configuration once per seed (``fit_digit_model``); return the list of runs."""
    return [fit_digit_model(factory, train, test, epochs, seed, **fit_args)[1]
            for seed in plumbing.progress(seeds, desc=f"{_factory_name(factory)} seeds", unit="run")]


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


def divergence(run):
    """Why a run diverged, in words, or None: a non-finite or blown-up loss, or one class predicted.

    A run diverged if its training loss was ever not finite or above
    ``DIVERGED_LOSS`` (ten times the loss of guessing), or if after its last epoch
    it predicts the same digit for every test recording.
    """
    loss = np.asarray(run["loss"], float)
    if not np.all(np.isfinite(loss)):
        return f"training loss not finite in epoch {int(np.flatnonzero(~np.isfinite(loss))[0]) + 1}"
    if loss.max() > DIVERGED_LOSS:
        return f"training loss blew up to {loss.max():.3g} in epoch {int(loss.argmax()) + 1}"
    classes = np.unique(run["predictions"])
    if len(classes) == 1:
        return f"predicts '{int(classes[0])}' for every test recording"
    return None


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
        (test accuracy in percent over all runs; the std is the sample standard
        deviation over seeds, 0 for a single run), ``diverged`` (runs that
        diverged, ``divergence``: they are in the mean, and named by
        ``diverged_runs``), ``train_s_mean`` (training seconds for those
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
    later = epoch_seconds_after_the_first(runs)
    first = runs[0]
    row = {"experiment": experiment, "model": first["model"], "epochs": epochs,
           "runs": len(runs), "seeds": " ".join(str(run["seed"]) for run in runs),
           "accuracy_mean": accuracy.mean(),
           "accuracy_std": accuracy.std(ddof=1) if len(runs) > 1 else 0.0,
           "accuracy_min": accuracy.min(), "accuracy_max": accuracy.max(),
           "diverged": sum(divergence(run) is not None for run in runs),
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


def speed_by_precision(factories, train, test, epochs, precisions=("float32", "mixed_bfloat16")):
    """Seconds per epoch of each model in each precision, measured one after the other.

    Args:
        factories: ``{label: factory}``.
        train, test: ``DigitImages``.
        epochs: epochs per timing run (seed 0); the first, which traces, is left out.
        precisions: Keras dtype policies (see ``fit_digit_model``).

    Returns:
        A DataFrame indexed by label with one ``s/epoch <precision>`` column per
        precision (the median of the epochs after the first).
    """
    rows = {}
    jobs = [(label, precision) for label in factories for precision in precisions]
    for label, precision in plumbing.progress(jobs, desc="timing runs", unit="run"):
        run = fit_digit_model(factories[label], train, test, epochs, precision=precision)[1]
        rows.setdefault(label, {})[f"s/epoch {precision}"] = float(np.median(run["seconds"][1:]))
    return pd.DataFrame.from_dict(rows, orient="index")


def _held_out_run(factory, train, test, epochs, seed, speaker, fit_args):
    return {**fit_digit_model(factory, train, test, epochs, seed, **fit_args)[1],
            "held_out": speaker}


def leave_one_speaker_out(factory, data, epochs, seeds=(0,), speakers=None, processes=None,
                          **fit_args):
    """Train on every speaker but one and test on that one, for each speaker and seed.

    The runs are independent, so they train side by side in ``processes`` worker
    processes, each limited to its share of the cores: small models leave cores
    idle between their small operations, so two one-thread runs at a time get
    more done than one run with two threads (README, "Speed", has the figures).
    The runs' ``seconds`` are therefore those of a shared machine
    (``cpus_used`` says how many threads each had): time models on
    ``fit_digit_model`` alone. Workers are spawned and import the main module,
    so a script must call this under ``if __name__ == "__main__":``.

    Args:
        factory: a ``sample_models`` digit factory (see ``fit_digit_model``); it is
            sent to the workers, so a module-level function or a ``functools.partial``.
        data: all recordings, a ``digit_images.DigitImages``.
        epochs, fit_args: as for ``fit_digit_model``.
        seeds: one run per speaker and seed.
        speakers: the speakers to hold out (default: all, in sorted order).
        processes: runs trained at once (default: one per usable core, at most
            one per run).

    Returns:
        A list of runs (``fit_digit_model``'s dict plus ``held_out``), seed by seed,
        each seed's speakers in order.
    """
    speakers = sorted(set(data.speakers)) if speakers is None else list(speakers)
    jobs = [(factory, *speaker_split(data, speaker), epochs, seed, speaker, fit_args)
            for seed in seeds for speaker in speakers]
    return run_in_workers(_held_out_run, jobs, processes, f"{_factory_name(factory)} LOSO",
                          "run")


def epoch_seconds_after_the_first(runs):
    """Every epoch's seconds of ``runs`` but each run's first (which also traces the model;
    a one-epoch run keeps its only epoch): a 1-D array."""
    return np.concatenate([run["seconds"][1:] or run["seconds"] for run in runs])


def speed_summary(runs, target):
    """How fast one configuration trains: seconds per epoch and the time to reach ``target``.

    Args:
        runs: runs of ``fit_digit_model`` with the same model and settings, each
            timed alone on the machine.
        target: a test accuracy (fraction).

    Returns:
        dict: ``precision``; ``s/epoch`` (median over every run's epochs after the
        first, which also traces the model) with ``s/epoch min`` and ``max``;
        ``first epoch s`` (median); ``reached`` (how many runs reached ``target``)
        and ``runs``; ``epochs to target`` and ``s to target`` (median over the runs
        that reached it, with ``... min`` and ``... max``): training seconds from
        the start, as measured.
    """
    later = epoch_seconds_after_the_first(runs)
    reached = [time_to_accuracy(run, target) for run in runs]
    hits = np.array([hit for hit in reached if not math.isnan(hit[0])], float).reshape(-1, 2)
    row = {"precision": runs[0]["precision"], "s/epoch": float(np.median(later)),
           "s/epoch min": float(later.min()), "s/epoch max": float(later.max()),
           "first epoch s": float(np.median([run["seconds"][0] for run in runs])),
           "reached": len(hits), "runs": len(runs)}
    for column, label in ((0, "epochs to target"), (1, "s to target")):
        values = hits[:, column] if len(hits) else np.array([math.nan])
        row.update({label: float(np.median(values)), f"{label} min": float(values.min()),
                    f"{label} max": float(values.max())})
    return row


def save_digit_runs(runs, name):
    """Pickle runs (a list, or a dict such as ``leave_one_speaker_out``'s) to ``results/<name>.pickle``.

    Every run carries its model, seed, epochs, per-epoch seconds and the machine
    (CPU, cores) it was timed on. Returns the path written.
    """
    path = plumbing.RESULTS_DIR / f"{name}.pickle"
    with atomic_path(path) as partial, open(partial, "wb") as stream:
        pickle.dump(runs, stream)
    return path


def load_digit_runs(name):
    """The runs saved by ``save_digit_runs(runs, name)``."""
    path = plumbing.RESULTS_DIR / f"{name}.pickle"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the digit notebook first.")
    with open(path, "rb") as stream:
        return pickle.load(stream)
