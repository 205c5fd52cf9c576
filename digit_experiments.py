"""The digit track's experiments: train, repeat over seeds, hold speakers out, summarise.

``fit_digit_model`` trains one digit classifier (``sample_models.essay_cnn`` ...)
on FSDD images and tests it after every epoch. Around it, the harness that the
digit notebook's questions need: the same configuration over several seeds
(``repeat_seeds``), leave one speaker out with the runs trained side by side in
worker processes (``leave_one_speaker_out``), a vote of several models
(``ensemble_accuracy``), summary rows and tables, confusion matrices,
misclassified recordings, plots, and the runs' pickles in ``results/``.
"""

import math
import os
import pickle
import time
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import sklearn.metrics
import tensorflow as tf

import sample_models
from data_generator import ImageBatches, official_split, speaker_split
import plumbing
from plumbing import (atomic_path, machine_description, refuse_to_run_as_command,
                      run_in_workers, usable_cpus)

DIGIT_BATCH_SIZE = 32  # the essay's batch: 85 steps per epoch on the 2,700 training images
# A run has diverged when its training loss exceeds ten times chance (ln 10 nats for 10 digits).
DIVERGED_LOSS = 10 * math.log(10)
# One colour per model in every figure of the digit notebook; variants share their model's hue.
MODEL_COLOURS = {"essay CNN": "#1f77b4", "essay RNN": "#ff7f0e", "our CNN": "#2ca02c",
                 "our RNN": "#d62728", "our CNN, normalised": "#98df8a",
                 "our RNN, normalised": "#ff9896", "our CNN + RNN, normalised": "#9467bd"}


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
            ``'mixed_bfloat16'`` (bfloat16 arithmetic, float32 weights: faster
            convolutions on CPUs with bfloat16 instructions, slower ones on
            others), or ``'auto'``: the latter where
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


def diverged_runs(experiments):
    """Every diverged run, one row each.

    Args:
        experiments: ``{experiment: {label: runs}}``, e.g. ``{"official split":
            {...}, "unseen speakers": {...}}``; ``runs`` is a list, or a dict
            speaker -> run. The same label may appear in several experiments.

    Returns a DataFrame with ``experiment``, ``label``, ``seed``, ``held_out``
    (speaker or empty), ``why`` (``divergence``) and ``accuracy`` (last epoch, percent).
    """
    rows = []
    for experiment, runs_by_label in experiments.items():
        for label, runs in runs_by_label.items():
            for run in (runs.values() if isinstance(runs, dict) else runs):
                why = divergence(run)
                if why:
                    rows.append({"experiment": experiment, "label": label, "seed": run["seed"],
                                 "held_out": run.get("held_out", ""), "why": why,
                                 "accuracy": 100 * run["test_accuracy"][-1]})
    return pd.DataFrame(rows, columns=["experiment", "label", "seed", "held_out", "why",
                                       "accuracy"])


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
    later = np.concatenate([run["seconds"][1:] or run["seconds"] for run in runs])
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


def leave_one_speaker_out(factory, data, epochs, seed=0, speakers=None, processes=None,
                          **fit_args):
    """Train on every speaker but one and test on that one, for each speaker in turn.

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
        data: all recordings, a ``data_generator.DigitImages``.
        epochs, seed, fit_args: as for ``fit_digit_model``.
        speakers: the speakers to hold out (default: all, in sorted order).
        processes: runs trained at once (default: one per usable core, at most
            one per speaker).

    Returns:
        dict speaker -> run (``fit_digit_model``'s dict plus ``held_out``).
    """
    speakers = sorted(set(data.speakers)) if speakers is None else list(speakers)
    jobs = [(factory, *speaker_split(data, speaker), epochs, seed, speaker, fit_args)
            for speaker in speakers]
    runs = run_in_workers(_held_out_run, jobs, processes, f"{_factory_name(factory)} LOSO",
                          "speaker")
    return dict(zip(speakers, runs))


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


def official_runs_like(specs, seed, train_subset=1):
    """One official-split run per held-out configuration, with its epochs, precision and settings.

    Args:
        specs: ``{label: (factory, images, name, epochs, precision, fit_args)}``, as
            the digit notebook gives them to ``leave_one_speaker_out``.
        seed: the seed of the held-out runs.
        train_subset: train on every ``train_subset``-th training image (quick runs).

    Returns:
        ``{label: run}`` (``fit_digit_model``), for ``official_vs_unseen``.
    """
    runs = {}
    for label, (factory, images, _, epochs, precision, fit_args) in plumbing.progress(
            specs.items(), desc="official-split runs", unit="run"):
        train, test = official_split(images)
        runs[label] = fit_digit_model(factory, train.subset(slice(None, None, train_subset)), test,
                                      epochs, seed, precision=precision, **fit_args)[1]
    return runs


def official_vs_unseen(official_runs, loso):
    """Official-split against held-out-speaker accuracy of each model, at the same epochs and seed.

    Args:
        official_runs: ``{label: run}`` trained on the official split with the
            epochs, seed and settings of that label's leave-one-speaker-out runs.
        loso: ``{label: {speaker: run}}`` (``leave_one_speaker_out``).

    Returns:
        A DataFrame indexed by label: ``epochs``, ``official split %``,
        ``unseen speakers %`` (mean over held-out speakers, every fold),
        ``diverged folds`` and ``unseen, without diverged %``, and ``cost (points)``:
        official minus unseen accuracy.
    """
    rows = {}
    for label, run in official_runs.items():
        folds = list(loso[label].values())
        if any(fold["epochs"] != run["epochs"] or fold["seed"] != run["seed"] for fold in folds):
            raise ValueError(f"{label}: the official run and the held-out folds differ in epochs or seed.")
        accuracy = np.array([100 * fold["test_accuracy"][-1] for fold in folds])
        ok = np.array([divergence(fold) is None for fold in folds])
        rows[label] = {"epochs": run["epochs"], "official split %": 100 * run["test_accuracy"][-1],
                       "unseen speakers %": accuracy.mean(), "diverged folds": int((~ok).sum()),
                       "unseen, without diverged %": accuracy[ok].mean() if ok.any() else math.nan}
        rows[label]["cost (points)"] = rows[label]["official split %"] - accuracy.mean()
    return pd.DataFrame.from_dict(rows, orient="index")


def _count(number, noun):
    """``'1 seed'``, ``'5 seeds'``."""
    return f"{number:.0f} {noun}" + ("" if number == 1 else "s")


def _mean_std(row):
    return f"{row['accuracy_mean']:.2f} ± {row['accuracy_std']:.2f}% ({_count(row['runs'], 'seed')})"


def essay_verdicts(essay_runs, speed, reported, epochs=(10, 16, 24)):
    """The essay's claims against this run's evidence: one row per claim, for a markdown table.

    Args:
        essay_runs: ``{"essay CNN": runs, "essay RNN": runs}`` on the official split,
            each run at least ``max(epochs)`` epochs.
        epochs: the epochs at which the runs are read, in place of the essay's
            10, 16 and 24 (the same unless a quick run trains fewer).
        speed: ``speed_by_precision`` of the essay models (``float32`` column at least).
        reported: ``{(label, epochs): (accuracy %, seconds)}``, the essay's single runs.

    Returns:
        A DataFrame with the columns ``claim``, ``the essay (one run)``,
        ``this run`` and ``verdict``.
    """
    read = dict(zip((10, 16, 24), epochs))  # the essay's epochs -> this run's
    summary = {(label, e): summarize_runs(runs, "official split", read[e])
               for label, runs in essay_runs.items() for e in (10, 16, 24)}
    cnn = {e: summary["essay CNN", e] for e in (10, 16, 24)}
    rnn = {e: summary["essay RNN", e] for e in (10, 16, 24)}
    test_size = essay_runs["essay CNN"][0]["test_size"]
    rows = []
    gap = cnn[24]["accuracy_mean"] - rnn[24]["accuracy_mean"]
    spread = cnn[24]["accuracy_std"] + rnn[24]["accuracy_std"]
    rows.append({
        "claim": "the CNN is more accurate than the RNN (24 epochs)",
        "the essay (one run)": f"{reported['essay CNN', 24][0]:.2f}% vs {reported['essay RNN', 24][0]:.2f}%",
        "this run": f"CNN {_mean_std(cnn[24])}, RNN {_mean_std(rnn[24])}",
        "verdict": (f"holds: {gap:.2f} points, more than the two spreads together ({spread:.2f})"
                    if gap > spread else
                    f"{'not shown' if gap > 0 else 'contradicted'}: {gap:+.2f} points, within "
                    f"the spread of seeds ({spread:.2f})")})
    f32 = speed["s/epoch float32"]
    faster, slower = ("essay RNN", "essay CNN") if f32["essay RNN"] < f32["essay CNN"] else \
        ("essay CNN", "essay RNN")
    also = "; ".join(f"{column.split(' ', 1)[1]}: CNN {speed.loc['essay CNN', column]:.2f} s, "
                     f"RNN {speed.loc['essay RNN', column]:.2f} s"
                     for column in speed.columns if column != "s/epoch float32")
    rows.append({
        "claim": "the RNN trains faster per epoch",
        "the essay (one run)": f"CNN {reported['essay CNN', 24][1] / 24:.1f} s, "
                               f"RNN {reported['essay RNN', 24][1] / 24:.1f} s per epoch",
        "this run": f"both in float32: CNN {f32['essay CNN']:.2f} s, RNN {f32['essay RNN']:.2f} s "
                    "per epoch" + (f" ({also})" if also else ""),
        "verdict": f"{'holds' if faster == 'essay RNN' else 'contradicted'} in float32: the "
                   f"{faster} takes {f32[faster] / f32[slower]:.2f} times the {slower}'s time"})
    at = lambda runs, e: np.array([100 * run["test_accuracy"][e - 1] for run in runs])
    fell = int(np.sum(at(essay_runs["essay CNN"], read[24]) < at(essay_runs["essay CNN"], read[16])))
    change = cnn[24]["accuracy_mean"] - cnn[16]["accuracy_mean"]
    essay_drop = reported["essay CNN", 16][0] - reported["essay CNN", 24][0]
    rows.append({
        "claim": "the CNN overfits after 16 epochs (less accurate at 24)",
        "the essay (one run)": f"{reported['essay CNN', 16][0]:.2f}% → {reported['essay CNN', 24][0]:.2f}%"
                               f" ({essay_drop * test_size / 100:.0f} of {test_size} recordings)",
        "this run": f"{cnn[16]['accuracy_mean']:.2f}% → {cnn[24]['accuracy_mean']:.2f}% (mean); "
                    f"falls in {fell} of {_count(cnn[24]['runs'], 'seed')}",
        "verdict": (f"holds: the mean falls by {-change:.2f} points, more than the seeds' "
                    f"spread ({cnn[24]['accuracy_std']:.2f})"
                    if -change > cnn[24]["accuracy_std"] else
                    f"contradicted: the mean rises by {change:.2f} points from 16 to 24 epochs"
                    if change > cnn[24]["accuracy_std"] else
                    f"not supported: a change of {change:+.2f} points, within the seeds' spread "
                    f"({cnn[24]['accuracy_std']:.2f}); one run cannot tell overfitting from noise")})
    warm = rnn[10]["accuracy_min"] > 2 * reported["essay RNN", 10][0]
    rows.append({
        "claim": "the RNN needs a long warm-up (29% after 10 epochs)",
        "the essay (one run)": f"{reported['essay RNN', 10][0]:.2f}% at 10 epochs, "
                               f"{reported['essay RNN', 16][0]:.2f}% at 16",
        "this run": f"{_mean_std(rnn[10])} at 10 epochs, lowest seed {rnn[10]['accuracy_min']:.2f}%",
        "verdict": (f"not reproduced: every seed is above {rnn[10]['accuracy_min']:.0f}% after 10 "
                    "epochs, so the essay's 29% was one unlucky run" if warm else
                    "reproduced: at least one seed is as slow")})
    return pd.DataFrame(rows)


def results_table(official, same_epochs):
    """Each model's results in one row, for the notebook's conclusion.

    Args:
        official: summary rows (``summarize_runs``) of the official split with a
            ``label`` column; a model's row with the most epochs is used.
        same_epochs: ``official_vs_unseen``.

    Returns:
        A DataFrame indexed by model: official-split accuracy (mean ± std over
        seeds, at its epochs), seconds per epoch with the precision, diverged runs,
        and, where the model was also held out speaker by speaker, its official
        and unseen-speaker accuracy at the same epochs and seed.
    """
    rows = {}
    for label, group in official.groupby("label", sort=False):
        row = group.sort_values("epochs").iloc[-1]
        rows[label] = {"official split": f"{_mean_std(row)}, {_count(row['epochs'], 'epoch')}",
                       "s/epoch": f"{row['s_per_epoch']:.2f} ({row['precision']})",
                       "diverged runs": f"{row['diverged']} of {row['runs']}"}
    for label, row in same_epochs.iterrows():
        rows.setdefault(label, {})["official → unseen speakers, same epochs and seed"] = (
            f"{row['official split %']:.2f}% → {row['unseen speakers %']:.2f}% "
            f"({_count(row['epochs'], 'epoch')}" + (f"; {row['diverged folds']:.0f} diverged folds, "
                                          f"{row['unseen, without diverged %']:.2f}% without them"
                                          if row["diverged folds"] else "") + ")")
    return pd.DataFrame.from_dict(rows, orient="index").fillna("")


def write_digit_summary(rows, name="digits_summary"):
    """Write summary rows (``summarize_runs``) to ``results/<name>.csv``; return them as a DataFrame."""
    table = pd.DataFrame(rows)
    with atomic_path(plumbing.RESULTS_DIR / f"{name}.csv") as partial:
        table.to_csv(partial, index=False, float_format="%.4f")
    return table


def plot_digit_curves(runs_by_label, title="Test accuracy per epoch", essay=None):
    """Mean test accuracy per epoch of each configuration, with its spread over seeds.

    Each model has its ``MODEL_COLOURS`` colour; the shaded band around a mean is
    its lowest to highest run (named in the legend).

    Args:
        runs_by_label: dict label -> list of runs (``fit_digit_model``).
        title: figure title.
        essay: optional dict label -> {epochs: accuracy percent}, drawn as markers.

    Returns:
        The matplotlib figure.
    """
    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    for label, runs in runs_by_label.items():
        accuracy = 100 * np.array([run["test_accuracy"] for run in runs])
        epochs = np.arange(1, accuracy.shape[1] + 1)
        colour = MODEL_COLOURS.get(label)
        seeds = f"{len(runs)} seed" + ("s" if len(runs) > 1 else "")
        ax.plot(epochs, accuracy.mean(axis=0), color=colour, label=f"{label}: mean of {seeds}")
        if len(runs) > 1:
            ax.fill_between(epochs, accuracy.min(axis=0), accuracy.max(axis=0), alpha=0.15,
                            color=colour, label=f"{label}: lowest to highest seed")
    for label, points in (essay or {}).items():
        ax.plot(list(points), list(points.values()), "o--", color=MODEL_COLOURS.get(label),
                markeredgecolor="black", label=f"{label}: the essay's single run")
    ax.set(title=title, xlabel="epoch", ylabel="test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return fig


def plot_loso_accuracy(table):
    """Bars of held-out-speaker accuracy: ``table`` speakers x models (percent, ``mean`` row dropped)."""
    bars = table.drop(index="mean", errors="ignore")
    ax = bars.plot.bar(figsize=(13, 4.5), rot=0,
                       color=[MODEL_COLOURS.get(label, "grey") for label in bars.columns])
    ax.set(title="Leave one speaker out: accuracy on the held-out speaker",
           xlabel="held-out speaker", ylabel="test accuracy (%)", ylim=(0, 100))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


def plot_confusion(matrix, title="Confusion matrix"):
    """Heat map of a ``(10, 10)`` confusion matrix, counts written in the cells; returns the figure."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", mask=matrix == 0, linewidths=0.5,
                linecolor="0.9", cbar_kws={"label": "recordings"}, ax=ax)
    ax.set(title=title, xlabel="predicted digit", ylabel="true digit")
    return fig


if __name__ == "__main__":
    refuse_to_run_as_command("digit_experiments")
