"""The digit track's tables, verdicts and figures, made from runs of ``digit_experiments``.

Every table has readable headers with units; accuracies are test accuracies in
percent, seconds are training seconds. ``essay_verdicts`` sets each claim of the
essay against the runs, and ``answer`` says in one line what they answer to the
notebook's title question.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("digit_reports")

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import sklearn.metrics

import plumbing
from digit_experiments import (divergence, epoch_seconds_after_the_first, speed_summary,
                               summarize_runs)
from plumbing import atomic_path

# One colour per model in every figure of the digit notebook.
MODEL_COLOURS = {"essay CNN": "#1f77b4", "essay RNN": "#ff7f0e", "our CNN": "#2ca02c",
                 "our RNN": "#d62728"}
CHANCE = 10.0  # percent: ten digits


def _mean_spread(values, decimals=2):
    """``'95.93 ± 1.34'`` (sample standard deviation), or the value alone for one run."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return f"{values.mean():.{decimals}f}"
    return f"{values.mean():.{decimals}f} ± {values.std(ddof=1):.{decimals}f}"


def accuracy_table(runs_by_label, epochs=None, reported=None):
    """Test accuracy of each configuration over its seeds, at one or several epochs.

    Args:
        runs_by_label: ``{label: runs}`` on the official split.
        epochs: the epochs to read every run at (default: each run's last).
        reported: ``{(label, epochs): (accuracy %, seconds)}``, the essay's single runs.

    Returns:
        A DataFrame indexed by ``(model, epochs)``: ``accuracy % (mean ± sd)``,
        ``lowest %``, ``highest %``, ``diverged runs`` and ``runs``, ``training s``
        (mean), and with ``reported`` the essay's ``essay accuracy %`` and ``essay s``.
    """
    rows = {}
    for label, runs in runs_by_label.items():
        for read in epochs or [runs[0]["epochs"]]:
            row = summarize_runs(runs, "official split", read)
            accuracy = [100 * run["test_accuracy"][read - 1] for run in runs]
            rows[label, read] = {"accuracy % (mean ± sd)": _mean_spread(accuracy),
                                 "lowest %": min(accuracy), "highest %": max(accuracy),
                                 "diverged runs": row["diverged"], "runs": row["runs"],
                                 "training s": row["train_s_mean"]}
            if reported is not None:
                accuracy, seconds = reported.get((label, read), (math.nan, math.nan))
                rows[label, read].update({"essay accuracy %": accuracy, "essay s": seconds})
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["model", "epochs"]
    return table


def speed_table(runs_by_label, target):
    """``speed_summary`` of each configuration with readable headers, one row per model."""
    t = f"{100 * target:g}%"
    rows = {}
    for label, runs in runs_by_label.items():
        s = speed_summary(runs, target)
        rows[label] = {
            "precision": s["precision"], "runs": s["runs"],
            "s/epoch, median": s["s/epoch"],
            "s/epoch, range": f"{s['s/epoch min']:.2f}-{s['s/epoch max']:.2f}",
            "first epoch s": s["first epoch s"],
            f"runs reaching {t}": f"{s['reached']} of {s['runs']}",
            f"epochs to {t}, median": s["epochs to target"],
            f"s to {t}, median": s["s to target"],
            f"s to {t}, range": (f"{s['s to target min']:.1f}-{s['s to target max']:.1f}"
                                 if s["reached"] else "not reached")}
    return pd.DataFrame.from_dict(rows, orient="index")


def unseen_table(loso):
    """Accuracy on each held-out speaker: the mean over seeds, per model.

    Args:
        loso: ``{label: runs}`` of ``leave_one_speaker_out`` (runs with ``held_out``).

    Returns:
        A DataFrame, speakers by models (percent), with a last row ``mean ± sd over
        seeds`` (each seed's mean over the speakers, then their mean and spread) as text.
    """
    table, last = {}, {}
    for label, runs in loso.items():
        frame = pd.DataFrame({"speaker": [run["held_out"] for run in runs],
                              "seed": [run["seed"] for run in runs],
                              "accuracy": [100 * run["test_accuracy"][-1] for run in runs]})
        table[label] = frame.groupby("speaker")["accuracy"].mean()
        last[label] = _mean_spread(frame.groupby("seed")["accuracy"].mean())
    table = pd.DataFrame(table).round(2).astype(object)
    table.loc["mean ± sd over seeds"] = pd.Series(last)
    return table


def official_vs_unseen(official_runs, loso, epochs):
    """What a voice never heard costs each model, at the same epochs and seeds.

    Args:
        official_runs: ``{label: runs}`` on the official split, at least ``epochs`` long.
        loso: ``{label: runs}`` of ``leave_one_speaker_out`` with ``epochs`` epochs.
        epochs: where the official runs are read.

    Returns:
        A DataFrame indexed by label: ``seeds``, ``official split %`` (mean over the
        held-out runs' seeds), ``unseen speakers %`` (mean over every fold and seed),
        ``diverged folds``, ``unseen, without diverged %`` and ``cost (points)``.
    """
    rows = {}
    for label, folds in loso.items():
        seeds = sorted({fold["seed"] for fold in folds})
        official = [run for run in official_runs[label] if run["seed"] in seeds]
        if len(official) != len(seeds) or any(fold["epochs"] != epochs for fold in folds):
            raise ValueError(f"{label}: the official runs must have the held-out runs' seeds "
                             f"{seeds}, and the held-out runs {epochs} epochs.")
        accuracy = np.array([100 * fold["test_accuracy"][-1] for fold in folds])
        ok = np.array([divergence(fold) is None for fold in folds])
        official_accuracy = np.mean([100 * run["test_accuracy"][epochs - 1] for run in official])
        rows[label] = {"seeds": len(seeds), "official split %": official_accuracy,
                       "unseen speakers %": accuracy.mean(), "diverged folds": int((~ok).sum()),
                       "unseen, without diverged %": accuracy[ok].mean() if ok.any() else math.nan,
                       "cost (points)": official_accuracy - accuracy.mean()}
    return pd.DataFrame.from_dict(rows, orient="index")


def diverged_runs(experiments):
    """Every diverged run, one row each.

    Args:
        experiments: ``{experiment: {label: runs}}``, e.g. ``{"official split":
            {...}, "unseen speakers": {...}}``. The same label may appear in several.

    Returns a DataFrame with ``experiment``, ``model``, ``seed``, ``held-out speaker``
    (or empty), ``why`` (``divergence``) and ``accuracy %`` (last epoch).
    """
    rows = []
    for experiment, runs_by_label in experiments.items():
        for label, runs in runs_by_label.items():
            for run in runs:
                why = divergence(run)
                if why:
                    rows.append({"experiment": experiment, "model": label, "seed": run["seed"],
                                 "held-out speaker": run.get("held_out", ""), "why": why,
                                 "accuracy %": 100 * run["test_accuracy"][-1]})
    return pd.DataFrame(rows, columns=["experiment", "model", "seed", "held-out speaker", "why",
                                       "accuracy %"])


def essay_verdicts(essay_runs, speed, reported, epochs=(10, 16, 24)):
    """The essay's claims against this run's evidence: one row per claim, for a markdown table.

    Args:
        essay_runs: ``{"essay CNN": runs, "essay RNN": runs}`` on the official split,
            each run at least ``max(epochs)`` epochs.
        speed: ``speed_table`` of the same runs (timed alone, in one precision).
        reported: ``{(label, epochs): (accuracy %, seconds)}``, the essay's single runs.
        epochs: the epochs at which the runs are read, in place of the essay's
            10, 16 and 24 (the same unless a quick run trains fewer).

    Returns:
        A DataFrame with the columns ``claim``, ``the essay (one run)``,
        ``this run`` and ``verdict``.
    """
    read = dict(zip((10, 16, 24), epochs))  # the essay's epochs -> this run's
    at = {(label, e): np.array([100 * run["test_accuracy"][read[e] - 1] for run in runs])
          for label, runs in essay_runs.items() for e in (10, 16, 24)}
    cnn, rnn = (lambda e: at["essay CNN", e]), (lambda e: at["essay RNN", e])
    seeds = len(essay_runs["essay CNN"])
    rows = []
    gap = cnn(24).mean() - rnn(24).mean()
    spread = cnn(24).std(ddof=1) + rnn(24).std(ddof=1) if seeds > 1 else 0.0
    rows.append({
        "claim": "the CNN is more accurate than the RNN (24 epochs)",
        "the essay (one run)": f"{reported['essay CNN', 24][0]:.2f}% vs "
                               f"{reported['essay RNN', 24][0]:.2f}%",
        "this run": f"CNN {_mean_spread(cnn(24))}%, RNN {_mean_spread(rnn(24))}% "
                    f"({seeds} seeds)",
        "verdict": (f"holds: {gap:.2f} points, more than the two spreads together ({spread:.2f})"
                    if gap > spread else
                    f"{'not shown' if gap > 0 else 'contradicted'}: {gap:+.2f} points, within "
                    f"the spread of seeds ({spread:.2f})")})
    per_epoch = speed["s/epoch, median"]
    faster, slower = sorted(("essay CNN", "essay RNN"), key=lambda label: per_epoch[label])
    overlap = _ranges_overlap(essay_runs[faster], essay_runs[slower])
    rows.append({
        "claim": "the RNN trains faster per epoch",
        "the essay (one run)": f"CNN {reported['essay CNN', 24][1] / 24:.1f} s, "
                               f"RNN {reported['essay RNN', 24][1] / 24:.1f} s per epoch",
        "this run": f"both in {speed.loc['essay CNN', 'precision']}: CNN "
                    f"{per_epoch['essay CNN']:.2f} s, RNN {per_epoch['essay RNN']:.2f} s per "
                    f"epoch (medians of {speed.loc['essay CNN', 'runs']} runs)",
        "verdict": (f"{'not shown' if overlap else 'holds' if faster == 'essay RNN' else 'contradicted'}"
                    f": the {faster} takes {per_epoch[faster] / per_epoch[slower]:.2f} times the "
                    f"{slower}'s time" + (", inside the overlap of the runs' epoch times "
                                          f"({speed.loc['essay CNN', 's/epoch, range']} s and "
                                          f"{speed.loc['essay RNN', 's/epoch, range']} s)"
                                          if overlap else ""))})
    fell = int(np.sum(cnn(24) < cnn(16)))
    change = cnn(24).mean() - cnn(16).mean()
    sd = cnn(24).std(ddof=1) if seeds > 1 else 0.0
    test_size = essay_runs["essay CNN"][0]["test_size"]
    essay_drop = reported["essay CNN", 16][0] - reported["essay CNN", 24][0]
    rows.append({
        "claim": "the CNN overfits after 16 epochs (less accurate at 24)",
        "the essay (one run)": f"{reported['essay CNN', 16][0]:.2f}% → "
                               f"{reported['essay CNN', 24][0]:.2f}% ("
                               f"{essay_drop * test_size / 100:.0f} of {test_size} recordings)",
        "this run": f"{cnn(16).mean():.2f}% → {cnn(24).mean():.2f}% (mean); falls in {fell} "
                    f"of {seeds} seeds",
        "verdict": (f"holds: the mean falls by {-change:.2f} points, more than the seeds' "
                    f"spread ({sd:.2f})" if -change > sd else
                    f"contradicted: the mean rises by {change:.2f} points, more than the "
                    f"seeds' spread ({sd:.2f})" if change > sd else
                    f"not supported: a change of {change:+.2f} points, within the seeds' spread "
                    f"({sd:.2f}); one run cannot tell overfitting from noise")})
    slow = rnn(10).min() <= 2 * reported["essay RNN", 10][0]
    rows.append({
        "claim": "the RNN needs a long warm-up (29% after 10 epochs)",
        "the essay (one run)": f"{reported['essay RNN', 10][0]:.2f}% at 10 epochs, "
                               f"{reported['essay RNN', 16][0]:.2f}% at 16",
        "this run": f"{_mean_spread(rnn(10))}% at 10 epochs, lowest seed {rnn(10).min():.2f}%",
        "verdict": ("reproduced: at least one seed is as slow" if slow else
                    f"not reproduced: every seed is above {rnn(10).min():.0f}% after 10 epochs, "
                    "so the essay's 29% was one unlucky run")})
    return pd.DataFrame(rows)


def answer(essay_runs, speed, target):
    """One line that answers the title question from the essay models' runs."""
    t = f"{100 * target:g}%"
    final = {label: np.mean([100 * run["test_accuracy"][-1] for run in runs])
             for label, runs in essay_runs.items()}
    to_target = speed[f"s to {t}, median"]
    accurate = max(final, key=final.get)
    quicker = min(to_target.index, key=lambda label: (np.nan_to_num(to_target[label],
                                                                    nan=np.inf)))
    per_epoch = speed["s/epoch, median"]
    cheaper, dearer = sorted(per_epoch.index, key=per_epoch.get)
    if _ranges_overlap(essay_runs[cheaper], essay_runs[dearer]):
        cost = (f"per epoch the two cost about the same ({cheaper.split()[1]} "
                f"{per_epoch[cheaper]:.2f} s, {dearer.split()[1]} {per_epoch[dearer]:.2f} s: "
                "the ranges of their runs overlap")
    else:
        cost = (f"per epoch the {cheaper.split()[1]} is the cheaper ({per_epoch[cheaper]:.2f} s "
                f"against {per_epoch[dearer]:.2f} s")
    return (f"**The {accurate.split()[1]} is the more accurate ({final[accurate]:.2f}% against "
            f"{min(final.values()):.2f}% after {essay_runs[accurate][0]['epochs']} epochs) and "
            f"the {quicker.split()[1]} reaches {t} sooner ({to_target[quicker]:.0f} s); {cost}, "
            f"both in {speed['precision'].iloc[0]}).**")


def _ranges_overlap(faster_runs, slower_runs):
    """Whether the faster model's slowest epoch (after the first) is as slow as the slower
    model's quickest one: then the difference of their medians is not shown."""
    return (epoch_seconds_after_the_first(faster_runs).max()
            >= epoch_seconds_after_the_first(slower_runs).min())


def write_digit_summary(rows, name="digits_summary"):
    """Write summary rows (``summarize_runs``) to ``results/<name>.csv``; return them as a DataFrame."""
    table = pd.DataFrame(rows)
    with atomic_path(plumbing.RESULTS_DIR / f"{name}.csv") as partial:
        table.to_csv(partial, index=False, float_format="%.4f")
    return table


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
        ``digit``, ``heard as`` (the most frequent wrong answer), ``wrong in runs``.
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
                     "heard as": int(np.bincount(answers).argmax()),
                     "wrong in runs": int(wrong[:, index].sum())})
    columns = ["index", "path", "speaker", "digit", "heard as", "wrong in runs"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["wrong in runs", "index"], ascending=[False, True], ignore_index=True)


def plot_digit_curves(runs_by_label, title="Test accuracy per epoch", essay=None):
    """Mean test accuracy per epoch of each configuration, with its spread over seeds.

    Each model has its ``MODEL_COLOURS`` colour; the shaded band around a mean is
    its lowest to highest run; a run that diverged (``divergence``) is drawn thin
    with a cross where its training loss blew up; the dotted line is chance (10%).

    Args:
        runs_by_label: dict label -> list of runs (``fit_digit_model``).
        title: figure title.
        essay: optional dict label -> {epochs: accuracy percent}, the essay's
            single runs, drawn as separate markers (each is a run of its own).

    Returns:
        The matplotlib figure.
    """
    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    for label, runs in runs_by_label.items():
        accuracy = 100 * np.array([run["test_accuracy"] for run in runs])
        epochs = np.arange(1, accuracy.shape[1] + 1)
        colour = MODEL_COLOURS.get(label)
        ax.plot(epochs, accuracy.mean(axis=0), color=colour,
                label=f"{label}: mean of {len(runs)} seed{'s' if len(runs) > 1 else ''}")
        if len(runs) > 1:
            ax.fill_between(epochs, accuracy.min(axis=0), accuracy.max(axis=0), alpha=0.15,
                            color=colour, label=f"{label}: lowest to highest seed")
        diverged = [(run, row) for run, row in zip(runs, accuracy) if divergence(run)]
        for number, (run, row) in enumerate(diverged):
            blew_up = int(np.nanargmax(np.nan_to_num(run["loss"], nan=np.inf)))
            ax.plot(epochs, row, color=colour, linewidth=0.7, alpha=0.7)
            ax.plot(blew_up + 1, row[blew_up], "x", color=colour, markersize=9,
                    label=f"{label}: diverged runs (x: loss blew up)" if number == 0 else None)
    for label, points in (essay or {}).items():
        ax.plot(list(points), list(points.values()), "o", linestyle="none",
                color=MODEL_COLOURS.get(label), markeredgecolor="black",
                label=f"{label}: the essay's single runs")
    ax.axhline(CHANCE, color="grey", linestyle=":", label="chance (10%)")
    ax.set(title=title, xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 101))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return fig


def plot_loso_accuracy(loso):
    """Bars of held-out-speaker accuracy per model (mean over seeds; ticks: each seed).

    Args:
        loso: ``{label: runs}`` of ``leave_one_speaker_out``.

    Returns:
        The matplotlib figure; a diverged run's tick is a cross, chance is dotted.
    """
    speakers = sorted({run["held_out"] for runs in loso.values() for run in runs})
    fig, ax = plt.subplots(figsize=(12, 4.5), layout="constrained")
    width = 0.8 / len(loso)
    for number, (label, runs) in enumerate(loso.items()):
        position = np.arange(len(speakers)) + (number - (len(loso) - 1) / 2) * width
        by_speaker = [[run for run in runs if run["held_out"] == s] for s in speakers]
        ax.bar(position, [np.mean([100 * r["test_accuracy"][-1] for r in group])
                          for group in by_speaker],
               width, color=MODEL_COLOURS.get(label, "grey"), label=f"{label}: mean over seeds")
        for x, group in zip(position, by_speaker):
            for run in group:
                ax.plot(x, 100 * run["test_accuracy"][-1], "x" if divergence(run) else "_",
                        color="black", markersize=8)
    ax.axhline(CHANCE, color="grey", linestyle=":", label="chance (10%)")
    ax.plot([], [], "_", color="black", label="one seed (x: diverged)")
    ax.set_xticks(np.arange(len(speakers)), speakers)
    ax.set(title="Leave one speaker out: accuracy on the held-out speaker",
           xlabel="held-out speaker (trained on the five others)",
           ylabel="test accuracy (%)", ylim=(0, 101))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return fig


def plot_confusion(matrix, title="Confusion matrix"):
    """Heat map of a ``(10, 10)`` confusion matrix, counts written in the cells; returns the figure."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", mask=matrix == 0, linewidths=0.5,
                linecolor="0.9", cbar_kws={"label": "recordings"}, ax=ax)
    ax.set(title=title, xlabel="predicted digit", ylabel="true digit")
    return fig
