"""Voices never heard in training: leave one speaker out for the VUI track.

For each FSDD speaker in turn, the final model is trained with the shipped recipe
(``recipe.train_final_model``) on digit strings of the five other speakers
(``digit_corpus.build_digit_corpus(hold_out=...)``) and scored on strings spoken
by the sixth, paused and connected, with each decoder of ``decoding.decoders``.
Nothing about a fold is chosen on its held-out speaker: the epoch kept is the
one with the lowest loss on the five training speakers' validation takes, and
the lexicon and language model come from the fold's own training transcripts.
The folds are independent, so they train side by side in worker processes
(``plumbing.run_in_workers``), each limited to its share of the cores.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("unseen_speakers")

import contextlib
import hashlib
import io

import pandas as pd

import plumbing
import recipe
from fsdd import FSDD_SPEAKERS
from plumbing import run_in_workers

DESIGN_SPEAKERS = ("george", "nicolas")  # designs are chosen on these folds only
UNTOUCHED_SPEAKERS = tuple(s for s in FSDD_SPEAKERS if s not in DESIGN_SPEAKERS)


def fold_corpus(speaker, **changes):
    """``(train_json, valid_json, test_json)`` of the fold without ``speaker``; built if missing.

    The recipe's corpus (``recipe.CORPUS``) with ``changes``; a fold with changes
    gets a folder of its own, ``digits-without-<speaker>-<digest of the changes>``
    (a change to the recipe's own value is none).
    """
    changes = {key: value for key, value in changes.items() if recipe.CORPUS.get(key) != value}
    name = f"digits-without-{speaker}"
    if changes:
        name += "-" + hashlib.sha256(repr(sorted(changes.items())).encode()).hexdigest()[:8]
    return recipe.default_corpus(out_dir=plumbing.DATA_DIR / name, hold_out=speaker, **changes)


def _train_fold(speaker, corpus, epochs, seed, name, folders, features, training):
    """One fold, in a worker: train with the recipe, score the held-out speaker's strings."""
    import keras

    plumbing.RESULTS_DIR, plumbing.CACHE_DIR = folders  # the caller's folders, not the defaults
    keras.utils.set_random_seed(seed)
    from decoding import error_rates, scores, transcripts

    train_json, valid_json, test_json = corpus
    with contextlib.redirect_stdout(io.StringIO()):  # the caller's table says what happened
        model, history = recipe.train_final_model(train_json, valid_json, name, epochs,
                                                  verbose=0, features=features, training=training)
        rates_by_decoder = error_rates(model, test_json)
        heard = scores(transcripts(model, valid_json))  # the training voices, other takes
    row = {"speaker": speaker, "train s": sum(history["seconds"])}
    for decoder, rates in rates_by_decoder.iterrows():
        row.update({f"{column} ({decoder})": value for column, value in rates.items()
                    if column != "non-words"})
        row[f"non-words ({decoder})"] = rates["non-words"]
    row.update({f"in-speaker {column} (greedy)": value for column, value in heard.items()})
    return row


def leave_one_speaker_out(speakers=FSDD_SPEAKERS, epochs=recipe.TRAINING["epochs"], seed=0,
                          results="", corpus=None, features=recipe.FEATURES,
                          training=recipe.TRAINING, processes=None):
    """Train and score the final model once per held-out speaker; one row each, and means.

    Args:
        speakers: the speakers to hold out in turn.
        epochs: training epochs of every fold.
        seed: seeds each fold's weights, batch order and dropout.
        results: prefix of the result names under ``results/`` (e.g. ``'quick/'``);
            fold ``s`` is kept as ``<results>loso_<s>.*``, so a finished fold is
            reused rather than trained again (``train_model``).
        corpus: changes to ``recipe.CORPUS`` for every fold (e.g. smaller sizes).
        features, training: the recipe's settings, or variants of them (studies).
        processes: folds trained at once (default: one per usable core).

    Returns:
        A DataFrame indexed by held-out speaker: training seconds (of a shared
        machine) and, for every decoder, ``WER % <style> (<decoder>)``, ``CER %
        <style> (<decoder>)`` and ``non-words (<decoder>)``; then the rows ``mean,
        design folds`` and ``mean, untouched folds`` for the speakers there are of each.
    """
    if not speakers:
        raise ValueError("leave_one_speaker_out: no speaker to hold out; name at least one of "
                         f"{', '.join(FSDD_SPEAKERS)}")
    folders = (plumbing.RESULTS_DIR, plumbing.CACHE_DIR)
    jobs = [(speaker, fold_corpus(speaker, **(corpus or {})), epochs, seed,
             f"{results}loso_{speaker}", folders, features, training) for speaker in speakers]
    table = pd.DataFrame(run_in_workers(_train_fold, jobs, processes, "held-out speakers",
                                        "speaker")).set_index("speaker")
    return with_fold_means(table)


def with_fold_means(table):
    """The speaker rows of ``table`` followed by the mean of its design and untouched folds.

    Args:
        table: rows indexed by held-out speaker, as ``leave_one_speaker_out`` returns
            them (several of its tables concatenated: their own mean rows are dropped).

    Returns:
        A copy with the rows ``mean, design folds`` and ``mean, untouched folds`` for
        the speakers there are of each.
    """
    table = table.loc[[name for name in table.index if not name.startswith("mean, ")]].copy()
    for label, group in (("design folds", DESIGN_SPEAKERS), ("untouched folds", UNTOUCHED_SPEAKERS)):
        chosen = [speaker for speaker in group if speaker in table.index]
        if chosen:
            table.loc[f"mean, {label}"] = table.loc[chosen].mean()
    return table
