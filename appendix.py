"""Tables and figures of the appendix notebook, made from the studies' CSVs in ``results/``.

Each function takes the DataFrame of one study as its script wrote it
(``benchmarks/design_study.py``, ``benchmarks/digit_study.py``) and returns a
table or a figure; nothing here trains or measures.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("appendix")

import matplotlib.pyplot as plt
import numpy as np

from unseen_speakers import DESIGN_SPEAKERS

DECODERS = ("greedy", "lexicon + LM")
STYLES = ("paused", "connected")


def _spread(values):
    """``mean ± sd`` of a Series as text (the sd over seeds; the mean alone for one seed)."""
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}" if len(values) > 1 \
        else f"{values.mean():.2f}"


def design_summary(rows, folds=DESIGN_SPEAKERS):
    """Per variant of the design study: WER % per style and decoder, mean over folds and seeds.

    Only the rows of the held-out speakers ``folds`` count (the design folds by
    default). The last columns give each seed's mean over the folds (connected
    strings, lexicon + LM), so that a difference between variants can be set
    against the spread between seeds.
    """
    rows = rows[rows["speaker"].isin(folds)]
    columns = [f"WER % {style} ({decoder})" for decoder in DECODERS for style in STYLES]
    table = rows.groupby("variant", sort=False)[columns].mean()
    per_seed = rows.groupby(["variant", "seed"], sort=False)[
        "WER % connected (lexicon + LM)"].mean().unstack("seed")
    per_seed.columns = [f"connected, lexicon + LM, seed {seed}" for seed in per_seed.columns]
    table = table.join(per_seed)
    table.insert(0, "runs", rows.groupby("variant", sort=False).size())
    return table.round(2)


def plot_design_study(rows):
    """Bars of the design folds' held-out WER (lexicon + LM) per variant and style; a dot per
    seed's mean."""
    rows = rows[rows["speaker"].isin(DESIGN_SPEAKERS)]
    variants = list(dict.fromkeys(rows["variant"]))
    fig, ax = plt.subplots(figsize=(12, 4.5), layout="constrained")
    width = 0.38
    for number, style in enumerate(STYLES):
        column = f"WER % {style} ({DECODERS[1]})"
        x = np.arange(len(variants)) + (number - 0.5) * width
        means = rows.groupby("variant", sort=False)[column].mean().reindex(variants)
        ax.bar(x, means, width, label=f"{style} strings: mean of folds and seeds")
        seeds = rows.groupby(["variant", "seed"], sort=False)[column].mean()
        for position, variant in zip(x, variants):
            ax.plot([position] * len(seeds[variant]), seeds[variant], "o", color="black",
                    markersize=4)
    ax.plot([], [], "o", color="black", markersize=4, label="one seed (mean of the two folds)")
    ax.set_xticks(np.arange(len(variants)), variants, rotation=15)
    ax.set(title="Design folds (george, nicolas held out): word error rate with the lexicon "
                 "and language model", ylabel="word error rate (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def digit_settings_summary(rows):
    """Validation accuracy % per model, learning rate and epochs: ``mean ± sd`` over seeds."""
    table = rows.groupby(["model", "learning_rate", "epochs"])["validation accuracy %"].agg(
        _spread).unstack("epochs")
    table.columns = [f"{epochs} epochs" for epochs in table.columns]
    return table.fillna("")


def plot_digit_settings(rows):
    """Validation accuracy against epochs, one line per learning rate, one panel per model."""
    models = list(dict.fromkeys(rows["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(12, 4), layout="constrained")
    for ax, model in zip(np.atleast_1d(axes), models):
        own = rows[rows["model"] == model]
        for rate, group in own.groupby("learning_rate"):
            stats = group.groupby("epochs")["validation accuracy %"].agg(["mean", "min", "max"])
            ax.errorbar(stats.index, stats["mean"],
                        yerr=[stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                        marker="o", capsize=3, label=f"learning rate {rate:g}")
        ax.set(title=f"{model}: validation takes 5-9", xlabel="epochs (cosine decay over them)",
               ylabel="validation accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(title="mean, lowest to highest seed", fontsize="small")
    return fig


def unseen_ablation_summary(rows):
    """Held-out-speaker accuracy % per model and images: each seed's mean over speakers, then
    ``mean ± sd`` of those, with the diverged runs counted."""
    per_seed = rows.groupby(["model", "images", "seed"], sort=False)["accuracy %"].mean()
    table = per_seed.groupby(["model", "images"], sort=False).agg(_spread).to_frame(
        "accuracy % (mean ± sd over seeds)")
    table["seeds"] = per_seed.groupby(["model", "images"], sort=False).size()
    table["diverged runs"] = rows.groupby(["model", "images"], sort=False)["diverged"].sum()
    worst = rows.groupby(["model", "images", "speaker"], sort=False)["accuracy %"].mean()
    table["hardest speaker %"] = worst.groupby(["model", "images"], sort=False).min().round(2)
    return table


def plot_unseen_ablation(rows):
    """Bars of held-out-speaker accuracy per speaker, one bar per model and images."""
    table = rows.groupby(["speaker", "model", "images"], sort=False)["accuracy %"].mean().unstack(
        ["model", "images"])
    table.columns = [f"{model}, {images}" for model, images in table.columns]
    ax = table.plot.bar(figsize=(13, 4.5), rot=0, width=0.85)
    ax.axhline(10, color="grey", linestyle=":", label="chance (10%)")
    ax.set(title="Leave one speaker out: accuracy on the held-out speaker (mean over seeds)",
           xlabel="held-out speaker (trained on the five others)", ylabel="accuracy (%)",
           ylim=(0, 101))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.figure.tight_layout()
    return ax.figure


def precision_summary(rows):
    """Seconds per epoch after the first, per model and precision: median, lowest, highest."""
    later = rows[rows["epoch"] > 1]
    table = later.groupby(["model", "precision"])["seconds"].agg(["median", "min", "max"])
    table.columns = ["s/epoch, median", "lowest", "highest"]
    table["runs"] = rows.groupby(["model", "precision"])["repeat"].nunique()
    return table.round(2)
