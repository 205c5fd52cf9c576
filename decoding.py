"""Decoding and scoring: from per-frame character probabilities to text, and its error rates.

``ctc.predict_texts`` runs an acoustic model over feature arrays and decodes its
``(batch, frames, 29)`` probabilities with one of three ``decoders``:

- ``greedy``: the likeliest character of every frame on its own, repeats merged and
  blanks dropped; it can spell words that do not exist ("thre");
- ``lexicon``: prefix beam search that can only spell words of the training
  transcripts (``beam_search.LexiconBeamSearch``);
- ``lexicon + LM``: the same, each hypothesis also scored by a word trigram model
  of the training transcripts (``beam_search.NgramModel``).

``error_rates`` and ``summary_table`` score trained models by word and character
error rate (WER, CER), each speaking style of a corpus apart. The rest shows CTC
at work: one utterance's per-frame probabilities and its greedy path.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("decoding")

import functools

import jiwer
import numpy as np
import pandas as pd
from keras import ops

from beam_search import LexiconBeamSearch, NgramModel
from char_map import BLANK_INDEX, index_map
from ctc import BLANK_SYMBOL, forward_pass, greedy_decode, output_frames, predict_texts
from data_generator import Featurizer, load_description_file, normalize
from plumbing import PROJECT_DIR
from recipe import DECODER
from trained_models import load_history, load_trained_model, load_weights_checked

DECODERS = ("greedy", "lexicon", "lexicon + LM")

def beam_decode(probabilities, output_lengths, decoder):
    """Decode a batch with a ``beam_search.LexiconBeamSearch``: one transcript per row."""
    log_probabilities = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, 1.0))
    return [decoder.decode(row[:int(length)])
            for row, length in zip(log_probabilities, output_lengths)]


def decoders(record, arpa=None, settings=DECODER):
    """The three decoders of a trained model: ``{label: decode}`` for ``predict_texts``.

    The lexicon and the word trigram model come from the model's own training
    transcripts (``record['train_json']``, never the corpus it is scored on), or
    from the ARPA file ``arpa``. ``settings`` holds ``alpha``, ``beta`` and
    ``beam_width`` (``beam_search.LexiconBeamSearch``); the shipped ones are
    ``recipe.DECODER``.
    """
    if arpa:
        language_model = NgramModel.from_arpa(arpa)
    else:
        utterances = load_description_file(PROJECT_DIR / record["train_json"],
                                           max_duration=float("inf"))
        language_model = NgramModel.from_transcripts(u["text"] for u in utterances)
    lexicon = language_model.vocabulary
    search = functools.partial(LexiconBeamSearch, lexicon, beam_width=settings["beam_width"])
    return {"greedy": greedy_decode,
            "lexicon": functools.partial(beam_decode, decoder=search()),
            "lexicon + LM": functools.partial(beam_decode, decoder=search(
                language_model=language_model, alpha=settings["alpha"], beta=settings["beta"]))}


def _featurize_normalized(record, audio_paths):
    return [normalize(f) for f in Featurizer(**record["features"]).corpus_features(audio_paths)]


def _record_of(input_to_softmax):
    record = getattr(input_to_softmax, "record", None)
    if record is None:
        raise ValueError(f"{input_to_softmax.name} has no training record: train it with "
                         "train_model() or load it with load_trained_model().")
    return record


def transcribe(audio_path, input_to_softmax, decode=greedy_decode):
    """Text of any audio file, decoded greedily (or with ``decode``) by a trained model.

    The audio is resampled to the model's corpus rate and featurised and
    normalised exactly as its training data.
    """
    record = _record_of(input_to_softmax)
    features = Featurizer(**record["features"])(audio_path)
    return predict_texts(input_to_softmax, [normalize(features)], decode=decode)[0]


# ------------------------------------------------------------------------ scoring

def lexicon_of(record):
    """The words of a trained model's training transcripts."""
    utterances = load_description_file(PROJECT_DIR / record["train_json"],
                                       max_duration=float("inf"))
    return {word for utterance in utterances for word in utterance["text"].split()}


def transcripts(input_to_softmax, desc_file, decode=greedy_decode, max_duration=10.0):
    """Every utterance of a corpus with its transcript by the model.

    Returns:
        A DataFrame in corpus order: ``key`` (audio path), ``style`` (``''`` where
        the corpus has none), ``truth`` and ``prediction``.
    """
    record = _record_of(input_to_softmax)
    utterances = load_description_file(desc_file, max_duration)
    if not utterances:
        raise ValueError(f"{desc_file} lists no utterance to score.")
    features = _featurize_normalized(record, [u["key"] for u in utterances])
    return pd.DataFrame({"key": [u["key"] for u in utterances],
                         "style": [u["style"] for u in utterances],
                         "truth": [u["text"] for u in utterances],
                         "prediction": predict_texts(input_to_softmax, features, decode=decode)})


def scores(table, lexicon=None):
    """WER and CER in percent of a ``transcripts`` table, each style apart (and ``non-words``).

    Returns:
        A dict: ``WER % <style>`` and ``CER % <style>`` for each style (``WER %``
        and ``CER %`` for a corpus without styles) and, given a ``lexicon``,
        ``non-words``: predicted words that are not in it.
    """
    row = {}
    for metric, function in (("WER %", jiwer.wer), ("CER %", jiwer.cer)):
        for style, group in table.groupby("style", sort=False):
            label = f"{metric} {style}".strip()
            row[label] = 100 * function(list(group["truth"]), list(group["prediction"]))
    if lexicon is not None:
        row["non-words"] = sum(word not in lexicon for text in table["prediction"]
                               for word in text.split())
    return row


def error_rates(input_to_softmax, desc_file, arpa=None):
    """WER and CER of a trained model over a corpus with each of its ``decoders``.

    Returns:
        A DataFrame indexed by decoder (``greedy``, ``lexicon``, ``lexicon + LM``)
        with ``WER % <style>`` and ``CER % <style>`` for each speaking style and
        ``non-words``, the predicted words missing from the training transcripts.
    """
    record = _record_of(input_to_softmax)
    lexicon = lexicon_of(record)
    rows = {label: scores(transcripts(input_to_softmax, desc_file, decode), lexicon)
            for label, decode in decoders(record, arpa).items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def summary_table(names, desc_file):
    """One row per trained model: size, features, time, losses and greedy WER/CER per style.

    Args:
        names: result names as given to ``train_model`` without their suffixes,
            e.g. ``['model_0', 'model_end']`` for ``model_0.pickle`` and
            ``model_0.weights.h5``; a name not trained yet is left out, and one
            printed line names it.
        desc_file: the corpus scored (the test set).

    Returns:
        A DataFrame indexed by name; seconds per epoch are the median of the
        epochs after the first (which also compiles), as measured in training.
    """
    rows, missing = {}, []
    for name in names:
        try:
            history = load_history(f"{name}.pickle")
            model = load_trained_model(f"{name}.weights.h5")
        except FileNotFoundError:
            missing.append(name)
            continue
        record, features = model.record, model.record["features"]
        best = history["best_epoch"]
        rows[name] = {
            "parameters": record["params"],
            "features": (f"spectrogram ({model.input_shape[-1]})" if features["spectrogram"]
                         else f"MFCC ({features['mfcc_dim']})"),
            "training strings": record["train_utterances"],
            "epochs": len(history["loss"]),
            "s/epoch": float(np.median(history["seconds"][1:] or history["seconds"])),
            "best epoch": best,
            "best val loss": history["val_loss"][best - 1],
            **scores(transcripts(model, desc_file)),
        }
    if missing:
        print(f"not trained yet (run their training cells): {', '.join(missing)}")
    return pd.DataFrame.from_dict(rows, orient="index")


def transcript_examples(table, count=3):
    """A few rows of a ``transcripts`` table: the first wrong one and ``count - 1`` right ones.

    For showing predictions honestly: a table of only perfect transcripts hides
    what the model gets wrong. Rows keep their corpus order; a ``correct`` column says which.
    """
    correct = table["truth"] == table["prediction"]
    chosen = list(table.index[~correct][:1]) + list(table.index[correct][:count - 1])
    shown = table.loc[sorted(chosen), ["style", "truth", "prediction"]]
    return shown.assign(correct=np.where(correct[shown.index], "yes", "no"))


def _corpus_utterance(record, index, partition):
    """``(utterance, normalised features)``: utterance ``index`` of the record's corpus
    ``partition`` (``'train'``, ``'validation'`` or ``'test'``, the test file beside the
    validation one)."""
    files = {"train": record["train_json"], "validation": record["valid_json"]}
    if record["valid_json"]:
        files["test"] = str(PROJECT_DIR / record["valid_json"]).replace("valid_corpus.json",
                                                                        "test_corpus.json")
    if partition not in files:
        raise ValueError(f"partition must be one of {', '.join(files)}, not {partition!r}.")
    utterance = load_description_file(PROJECT_DIR / files[partition], record["max_duration"])[index]
    return utterance, _featurize_normalized(record, [utterance["key"]])[0]


def get_predictions(index, partition, input_to_softmax, model_path):
    """Print the true and the predicted transcription of one utterance; return its audio player.

    Args:
        index: position of the utterance in the corpus.
        partition: ``'train'``, ``'validation'`` or ``'test'``.
        input_to_softmax: a model built with the same arguments as the trained one.
        model_path: its weights file in ``results/``, e.g. ``'model_end.weights.h5'``.
    """
    from IPython.display import Audio

    record = load_weights_checked(input_to_softmax, model_path).record
    utterance, features = _corpus_utterance(record, index, partition)
    predicted = predict_texts(input_to_softmax, [features])[0]
    print("-" * 80 + f"\nTrue transcription ({utterance['style'] or partition}):\n"
          f"{utterance['text']}\n" + "-" * 80 + f"\nPredicted transcription:\n{predicted}\n"
          + "-" * 80)
    return Audio(utterance["key"])


# ------------------------------------------------------------ CTC made visible

def frame_path(probabilities):
    """The greedy path of ``(frames, 29)`` probabilities: one symbol per frame, ``_`` for the blank."""
    return "".join(BLANK_SYMBOL if i == BLANK_INDEX else index_map[i]
                   for i in np.argmax(probabilities, axis=-1))


def utterance_probabilities(input_to_softmax, index=0, partition="test"):
    """Per-frame probabilities of one corpus utterance under a trained model.

    Args:
        input_to_softmax: a trained model (with its ``record``, e.g. from
            ``load_trained_model``).
        index, partition: the utterance: its position in the ``'train'``,
            ``'validation'`` or ``'test'`` corpus of the model's record.

    Returns:
        ``(probabilities, text, frames)``: ``(output frames, 29)`` probabilities,
        the true transcript, and the utterance's input frames.
    """
    utterance, features = _corpus_utterance(_record_of(input_to_softmax), index, partition)
    probabilities = ops.convert_to_numpy(forward_pass(input_to_softmax)(features[None]))[0]
    return (probabilities[:int(output_frames(input_to_softmax, len(features)))],
            utterance["text"], len(features))


def plot_ctc_alignment(probabilities, text, title, frame_ms=10):
    """Heat map of ``(frames, 29)`` probabilities with the greedy path; returns the figure.

    Rows are the 28 characters and the blank (``_``, top row); the dots mark the
    likeliest symbol of each frame, the greedy path. ``frame_ms`` is the duration
    of one output frame (the feature step times the model's stride), for the axis.
    """
    import matplotlib.pyplot as plt

    symbols = [index_map[i] if index_map[i] != " " else "space" for i in range(BLANK_INDEX)]
    symbols.append("blank _")
    frames = np.arange(len(probabilities))
    fig, ax = plt.subplots(figsize=(14, 6.5))
    image = ax.imshow(probabilities.T, aspect="auto", origin="lower", cmap="magma",
                      vmin=0, vmax=1, interpolation="nearest")
    ax.scatter(frames, np.argmax(probabilities, axis=-1), s=9, color="#39d353",
               label="greedy path (likeliest symbol of each frame)")
    ax.set_yticks(range(len(symbols)), symbols, fontsize=7)
    ax.set(title=title, xlabel=f"output frame ({frame_ms:g} ms each)", ylabel="symbol")
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.09), frameon=False)
    fig.colorbar(image, ax=ax, label="probability", pad=0.01)
    fig.tight_layout()
    return fig
