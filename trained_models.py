"""Trained models read back: their records, weights and histories, and loss curves.

``train_model`` (``train_utils.py``) keeps each run in ``results/``: the weights of
the epoch kept (``<name>.weights.h5``), a JSON record of how the model was made
(``<name>.json``) and the history pickle (``<name>.pickle``). This module reads
them back: ``load_trained_model`` rebuilds a model from its record and loads its
weights (refusing weights of another run or model), ``load_histories`` reads the
runs trained so far, ``plot_loss_curves`` compares them, and
``frames_for_transcript`` sets each model's output frames against a transcript.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("trained_models")

import json
import pickle
from pathlib import Path

import numpy as np

import plumbing
import sample_models
from ctc import frames_needed
from plumbing import file_sha256, project_path

def record_file_of(weights_path):
    """``results/<name>.json`` beside ``results/<name>.weights.h5``."""
    return plumbing.RESULTS_DIR / (str(weights_path)[:-len(".weights.h5")] + ".json")


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


def load_history(pickle_path):
    """The history dict that ``train_model`` saved as ``results/<pickle_path>``."""
    path = plumbing.RESULTS_DIR / pickle_path
    if not path.is_file():
        raise FileNotFoundError(f"{project_path(path)} not found: train the model first.")
    return read_history(path)


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


def load_weights_checked(input_to_softmax, weights_path):
    """Load ``results/<weights_path>`` into a model built with the same arguments.

    Attaches the training record to ``input_to_softmax.record``.

    Raises:
        FileNotFoundError: no weights or record: train the model first.
        ValueError: the model was built with other arguments (or for other
            features) than the one trained; the differences are named.
    """
    weights_file, record_file = plumbing.RESULTS_DIR / weights_path, record_file_of(weights_path)
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
    load_weights_file(input_to_softmax, weights_file)
    input_to_softmax.record = record
    return input_to_softmax


def load_weights_file(input_to_softmax, weights_file):
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
    return load_weights_checked(rebuilt_untrained(weights_path), weights_path)


def rebuilt_untrained(weights_path):
    """A new, untrained model built as the record beside ``weights_path`` says."""
    record_file = record_file_of(weights_path)
    if not record_file.is_file():
        raise FileNotFoundError(f"{record_file} is missing: train the model first.")
    return rebuild(json.loads(record_file.read_text())["build"])


def rebuild(build_args):
    """A new, untrained model of a ``sample_models`` factory, from its ``build_args``."""
    build = dict(build_args)
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
        model = rebuilt_untrained(f"{prefix}{name}.weights.h5")
        out = int(model.output_length(frames))
        rows[name] = {"output frames": out, "ms per output frame": round(10 * frames / out),
                      "frames the text needs": needed, "output / needed": round(out / needed, 1)}
    return pd.DataFrame.from_dict(rows, orient="index")


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
