"""Voices never heard in training: leave one speaker out for the VUI track.

For each FSDD speaker in turn, an acoustic model is trained on digit strings of
the five other speakers (``prepare_data.build_digit_corpus(hold_out=...)``) and
scored on strings spoken by the sixth, with each decoder of
``decoding.decoders``. The folds are independent, so they train side by side in
worker processes (``plumbing.run_in_workers``), each limited to its share of the
cores. Nothing about a fold is chosen on its held-out speaker: training runs a
fixed number of epochs and keeps the last one (no validation set), and the
language model comes from the fold's own training transcripts.
"""

import pandas as pd

import plumbing
import sample_models
from fsdd import find_fsdd
from plumbing import refuse_to_run_as_command, run_in_workers


def fold_corpus(speaker, train_size=1600, valid_size=320, fsdd_dir=None):
    """``(train_json, valid_json)`` of the fold without ``speaker``; built if missing.

    The training strings come from the five other speakers (FSDD takes 5-49), the
    validation strings from ``speaker`` alone (takes 0-4). Quick runs pass smaller
    sizes and get their own folder.
    """
    from prepare_data import build_digit_corpus

    name = f"digits-without-{speaker}"
    if (train_size, valid_size) != (1600, 320):
        name += f"-{train_size}-{valid_size}"
    return build_digit_corpus(find_fsdd(fsdd_dir), plumbing.DATA_DIR / name, train_size,
                              valid_size, hold_out=speaker)


def _train_fold(factory, build_args, speaker, corpus, epochs, learning_rate, minibatch_size,
                spectrogram, seed, name, folders):
    """One fold, in a worker: train on ``corpus``'s training strings, score its validation ones."""
    import keras

    plumbing.RESULTS_DIR, plumbing.CACHE_DIR = folders  # the caller's folders, not the defaults
    keras.utils.set_random_seed(seed)
    from decoding import error_rates
    from train_utils import cosine_adam, load_trained_model, train_model
    from data_generator import AudioGenerator

    train_json, valid_json = corpus
    data = AudioGenerator(train_json, None, minibatch_size=minibatch_size, spectrogram=spectrogram)
    model = getattr(sample_models, factory)(**build_args)
    history = train_model(model, f"{name}.pickle", f"{name}.weights.h5", train_json, None,
                          minibatch_size=minibatch_size, spectrogram=spectrogram, epochs=epochs,
                          verbose=0,
                          optimizer=cosine_adam(learning_rate, epochs, data.steps_per_epoch),
                          jit_compile=False)
    scores = error_rates(load_trained_model(f"{name}.weights.h5"), valid_json)
    row = {"speaker": speaker, "utterances": int(scores["utterances"].iloc[0]),
           "train_s": sum(history["seconds"])}
    for label, rates in scores.iterrows():
        row[f"WER % {label}"], row[f"CER % {label}"] = rates["WER %"], rates["CER %"]
    return row


def leave_one_speaker_out(factory, build_args, speakers, epochs, learning_rate, minibatch_size=20,
                          spectrogram=True, seed=0, results="", train_size=1600, valid_size=320,
                          processes=None):
    """Train and score one model per held-out speaker; their rows and the mean.

    Args:
        factory: name of a ``sample_models`` factory, e.g. ``'final_model'``.
        build_args: its keyword arguments, ``input_dim`` included.
        speakers: the speakers to hold out in turn.
        epochs, learning_rate: training of every fold (Adam with a cosine decay).
        minibatch_size: utterances per training step of every fold.
        spectrogram: spectrogram features if True, else MFCC.
        seed: seeds each fold's weights, batch order and dropout.
        results: prefix of the result names under ``results/`` (e.g. ``'quick/'``);
            fold ``s`` is kept as ``<results>loso_<factory>_<s>.*``, so a finished
            fold is reused rather than trained again (``train_model``).
        train_size, valid_size: utterances of each fold's corpus.
        processes: folds trained at once (default: one per usable core).

    Returns:
        A DataFrame indexed by held-out speaker, plus a ``mean`` row: utterances
        scored, training seconds (of a shared machine), and ``WER % <decoder>`` /
        ``CER % <decoder>`` for greedy decoding, beam search, and beam search with
        the lexicon and language model.
    """
    folders = (plumbing.RESULTS_DIR, plumbing.CACHE_DIR)
    jobs = [(factory, build_args, speaker, fold_corpus(speaker, train_size, valid_size), epochs,
             learning_rate, minibatch_size, spectrogram, seed,
             f"{results}loso_{factory}_{speaker}", folders)
            for speaker in speakers]
    rows = run_in_workers(_train_fold, jobs, processes, f"{factory} LOSO", "speaker")
    table = pd.DataFrame(rows).set_index("speaker")
    table.loc["mean"] = table.mean()
    return table


if __name__ == "__main__":
    refuse_to_run_as_command("unseen_speakers")
