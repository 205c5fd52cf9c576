"""Decoding and scoring: from per-frame character probabilities to text, and its error rates.

``predict_texts`` runs an acoustic model over feature arrays and decodes its
``(batch, frames, 29)`` probabilities. ``greedy_decode`` takes the likeliest
character of every frame on its own, so it can spell words that do not exist
("thwo"). Prefix beam search (pyctcdecode, ``beam_decoder`` / ``beam_decode``)
keeps the ``beam_width`` likeliest transcriptions while it reads the frames and,
given a language model, adds to each hypothesis

    alpha * log P(words) + beta * number of words,

where ``P`` comes from a word n-gram model and a word outside the lexicon costs
``unk_score_offset``. ``NgramModel`` is that model: estimated from transcripts
(interpolated absolute discounting) or read from an ARPA file, and written as one.
``evaluate_model`` and ``summary_table`` score trained models by WER and CER.
"""

import functools
import logging
import math
from collections import Counter, defaultdict
from pathlib import Path

import jiwer
import numpy as np
import pandas as pd
import tensorflow as tf
from keras import ops

from char_map import BLANK_INDEX, NUM_CLASSES, index_map
from data_generator import Featurizer, load_description_file, normalize, pad_batch
from plumbing import PROJECT_DIR, refuse_to_run_as_command
from train_utils import BLANK_SYMBOL, load_history, load_trained_model, load_weights_checked
from utils import int_sequence_to_text

logging.getLogger("pyctcdecode").setLevel(logging.ERROR)  # it warns at import that kenlm is absent
from pyctcdecode import Alphabet, BeamSearchDecoderCTC  # noqa: E402
from pyctcdecode.language_model import AbstractLanguageModel  # noqa: E402

# ------------------------------------------------------------------ greedy decoding

def greedy_decode(probabilities, output_lengths):
    """Best-path CTC decoding.

    Args:
        probabilities: ``(batch, frames, 29)`` per-frame character probabilities.
        output_lengths: ``(batch,)`` valid frames of each row.

    Returns:
        A list of ``batch`` strings: the most likely character per frame, repeats
        merged, blanks removed.
    """
    decoded, _ = ops.ctc_decode(probabilities, np.asarray(output_lengths, np.int32),
                                strategy="greedy", mask_index=BLANK_INDEX)
    return [int_sequence_to_text(row) for row in ops.convert_to_numpy(decoded[0])]


def _forward_pass(input_to_softmax):
    """The model's inference call, traced once for every batch size and frame count.

    Called eagerly, a recurrent layer steps through the frames in Python, some 30
    times slower than the traced loop.
    """
    if not hasattr(input_to_softmax, "_traced_forward_pass"):
        features = tf.TensorSpec((None, None, input_to_softmax.input_shape[-1]), tf.float32)
        traced = tf.function(lambda batch: input_to_softmax(batch, training=False),
                             input_signature=[features])
        # object.__setattr__: Keras would otherwise try to track the function as state.
        object.__setattr__(input_to_softmax, "_traced_forward_pass", traced)
    return input_to_softmax._traced_forward_pass


def predict_texts(input_to_softmax, features, batch_size=32, decode=greedy_decode):
    """Transcribe normalised feature arrays ``(frames_i, input_dim)``.

    Utterances are batched in order of length and padded, and the model is called
    on the padded batches, so any mix of lengths works. ``decode`` maps a batch's
    ``(batch, frames, 29)`` probabilities and ``(batch,)`` output lengths to texts:
    ``greedy_decode``, or ``beam_decode`` with its decoder bound.
    Returns a list of strings in the order of ``features``.
    """
    order = np.argsort([len(f) for f in features], kind="stable")
    texts = [None] * len(features)
    for start in range(0, len(order), batch_size):
        members = order[start:start + batch_size]
        # Calling the model (not predict_on_batch) keeps every batch's own frame count.
        probabilities = _forward_pass(input_to_softmax)(pad_batch([features[i] for i in members]))
        lengths = input_to_softmax.output_length(np.array([len(features[i]) for i in members]))
        for i, text in zip(members, decode(ops.convert_to_numpy(probabilities), lengths)):
            texts[i] = text
    return texts


def _featurize_normalized(record, audio_paths):
    return [normalize(f) for f in Featurizer(**record["features"]).corpus_features(audio_paths)]


def _record_of(input_to_softmax):
    record = getattr(input_to_softmax, "record", None)
    if record is None:
        raise ValueError(f"{input_to_softmax.name} has no training record: train it with "
                         "train_model() or load it with load_trained_model().")
    return record


def transcribe(audio_path, input_to_softmax):
    """Text of any audio file, decoded greedily by a trained model.

    The audio is resampled to the model's corpus rate and featurised and
    normalised exactly as its training data.
    """
    record = _record_of(input_to_softmax)
    features = Featurizer(**record["features"])(audio_path)
    return predict_texts(input_to_softmax, [normalize(features)])[0]


def evaluate_model(input_to_softmax, desc_file=None, max_duration=10.0, decode=None):
    """Word and character error rates over a whole corpus.

    Args:
        input_to_softmax: a trained model (with its ``record``).
        desc_file: description file; default: the model's validation corpus.
        decode: a decoder as for ``predict_texts`` (default: ``greedy_decode``;
            ``decoders(record)`` gives beam search with and without the language model).

    Returns:
        dict with ``wer`` and ``cer`` (fractions), ``utterances``, and the
        lists ``truths`` and ``predictions``.
    """
    record = _record_of(input_to_softmax)
    if desc_file is None and record["valid_json"] is None:
        raise ValueError(f"{input_to_softmax.name} was trained without a validation corpus: "
                         "pass desc_file.")
    desc_file = desc_file or PROJECT_DIR / record["valid_json"]
    utterances = load_description_file(desc_file, max_duration)
    features = _featurize_normalized(record, [u["key"] for u in utterances])
    predictions = predict_texts(input_to_softmax, features, decode=decode or greedy_decode)
    truths = [u["text"] for u in utterances]
    return {"wer": jiwer.wer(truths, predictions), "cer": jiwer.cer(truths, predictions),
            "utterances": len(utterances), "truths": truths, "predictions": predictions}


def error_rates(input_to_softmax, desc_file=None):
    """WER and CER of a trained model over a corpus with each of its ``decoders``.

    Args:
        input_to_softmax: a trained model (with its ``record``).
        desc_file: description file; default: the model's validation corpus.

    Returns:
        A DataFrame indexed by decoder (``greedy``, ``beam``, ``beam + LM``) with
        ``WER %`` and ``CER %`` and the number of ``utterances``.
    """
    rows = {}
    for label, decode in decoders(_record_of(input_to_softmax)).items():
        scores = evaluate_model(input_to_softmax, desc_file, decode=decode)
        rows[label] = {"WER %": 100 * scores["wer"], "CER %": 100 * scores["cer"],
                       "utterances": scores["utterances"]}
    return pd.DataFrame.from_dict(rows, orient="index")


def _corpus_utterance(record, index, partition):
    """``(utterance, normalised features)``: utterance ``index`` of the record's corpus
    ``partition`` ('train' or 'validation')."""
    if partition not in ("train", "validation"):
        raise ValueError(f"partition must be 'train' or 'validation', not {partition!r}.")
    desc_file = PROJECT_DIR / record["train_json" if partition == "train" else "valid_json"]
    utterance = load_description_file(desc_file, record["max_duration"])[index]
    return utterance, _featurize_normalized(record, [utterance["key"]])[0]


def get_predictions(index, partition, input_to_softmax, model_path):
    """Print the true and the predicted transcription of one utterance; return its audio player.

    Args:
        index: position of the utterance in the corpus.
        partition: ``'train'`` or ``'validation'``.
        input_to_softmax: a model built with the same arguments as the trained one.
        model_path: its weights file in ``results/``, e.g. ``'model_end.weights.h5'``.
    """
    from IPython.display import Audio

    record = load_weights_checked(input_to_softmax, model_path).record
    utterance, features = _corpus_utterance(record, index, partition)
    predicted = predict_texts(input_to_softmax, [features])[0]
    print("-" * 80 + f"\nTrue transcription:\n{utterance['text']}\n" + "-" * 80
          + f"\nPredicted transcription:\n{predicted}\n" + "-" * 80)
    return Audio(utterance["key"])


def summary_table(names):
    """One row per trained model: size, features, time, losses, WER and CER.

    Args:
        names: result names as given to ``train_model`` without their suffixes,
            e.g. ``['model_0', 'model_end']`` for ``model_0.pickle`` and
            ``model_0.weights.h5``.

    Returns:
        A pandas DataFrame indexed by name; WER and CER in percent on each
        model's validation corpus (weights of the best epoch), seconds per
        epoch as measured in training (compilation included).
    """
    rows = {}
    for name in names:
        history = load_history(f"{name}.pickle")
        model = load_trained_model(f"{name}.weights.h5")
        record, scores = model.record, evaluate_model(model)
        features = record["features"]
        best = int(np.argmin(history["val_loss"]))
        rows[name] = {
            "parameters": record["params"],
            "features": (f"spectrogram ({model.input_shape[-1]})" if features["spectrogram"]
                         else f"MFCC ({features['mfcc_dim']})"),
            "epochs": len(history["loss"]),
            "s/epoch": round(float(np.mean(history["seconds"])), 1),
            "train min": round(float(np.sum(history["seconds"])) / 60, 1),
            "best val loss": round(history["val_loss"][best], 2),
            "best epoch": best + 1,
            "last val loss": round(history["val_loss"][-1], 2),
            "WER %": round(100 * scores["wer"], 2),
            "CER %": round(100 * scores["cer"], 2),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# ------------------------------------------------------------ CTC made visible

def frame_path(probabilities):
    """The greedy path of ``(frames, 29)`` probabilities: one symbol per frame, ``_`` for the blank."""
    return "".join(BLANK_SYMBOL if i == BLANK_INDEX else index_map[i]
                   for i in np.argmax(probabilities, axis=-1))


def utterance_probabilities(input_to_softmax, index=0, partition="validation"):
    """Per-frame probabilities of one corpus utterance under a trained model.

    Args:
        input_to_softmax: a trained model (with its ``record``, e.g. from
            ``load_trained_model``).
        index, partition: the utterance: its position in the ``'train'`` or
            ``'validation'`` corpus of the model's record.

    Returns:
        ``(probabilities, text, frames)``: ``(output_length(frames), 29)``
        probabilities, the true transcript, and the utterance's input frames.
    """
    utterance, features = _corpus_utterance(_record_of(input_to_softmax), index, partition)
    probabilities = ops.convert_to_numpy(_forward_pass(input_to_softmax)(features[None]))[0]
    return probabilities[:int(input_to_softmax.output_length(len(features)))], utterance["text"], \
        len(features)


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


# ------------------------------------------- beam search with a language model

def decoders(record, arpa=None, beam_width=25):
    """The three decoders of a trained model: ``{'greedy', 'beam', 'beam + LM'}`` -> decode.

    ``'beam + LM'`` uses a word trigram model estimated from the model's own
    training transcripts (``record['train_json']``; never the corpus it is
    tested on), or the ARPA file ``arpa``, and that model's words as the lexicon.
    Each value is a ``decode`` function for ``predict_texts``.
    """
    if arpa:
        language_model = NgramModel.from_arpa(arpa)
    else:
        utterances = load_description_file(PROJECT_DIR / record["train_json"],
                                           max_duration=float("inf"))
        language_model = NgramModel.from_transcripts(u["text"] for u in utterances)
    return {"greedy": greedy_decode,
            "beam": functools.partial(beam_decode, decoder=beam_decoder(), beam_width=beam_width),
            "beam + LM": functools.partial(beam_decode, decoder=beam_decoder(language_model),
                                           beam_width=beam_width)}


BOS, EOS, UNK = "<s>", "</s>", "<unk>"
LABELS = [index_map[i] for i in range(NUM_CLASSES - 1)] + [""]  # "" is pyctcdecode's blank


class NgramModel:
    """A backed-off word n-gram model, as an ARPA file holds one.

    Attributes:
        order: the longest n-gram, in words.
        logprobs: ``{n-gram tuple: log10 probability}`` for every stored n-gram.
        backoffs: ``{context tuple: log10 backoff weight}``.
    """

    def __init__(self, order, logprobs, backoffs):
        self.order, self.logprobs, self.backoffs = order, logprobs, backoffs
        self.vocabulary = {gram[0] for gram in logprobs if len(gram) == 1} - {BOS, EOS, UNK}

    @classmethod
    def from_transcripts(cls, texts, order=3, discount=0.75):
        """Estimate a model from transcripts by interpolated absolute discounting.

        Args:
            texts: transcripts, words separated by spaces.
            order: longest n-gram (3: trigrams).
            discount: subtracted from every seen n-gram's count (0 < discount < 1).

        Returns:
            An ``NgramModel`` whose probabilities of seen n-grams are the interpolated
            ones, and whose backoff weights give the rest of the mass to shorter contexts.
        """
        if not 0 < discount < 1:
            raise ValueError(f"discount must lie between 0 and 1, not {discount}.")
        counts = [Counter() for _ in range(order + 1)]  # counts[n][n-gram]
        for text in texts:
            words = [BOS] + text.split() + [EOS]
            for n in range(1, order + 1):
                for end in range(max(n - 1, 1), len(words)):
                    counts[n][tuple(words[end - n + 1:end + 1])] += 1
        if not counts[1]:
            raise ValueError("no transcript holds a word: the language model needs training text.")
        unigrams = {gram: count for gram, count in counts[1].items() if gram != (BOS,)}
        total = sum(unigrams.values())
        probability = {gram: count / total for gram, count in unigrams.items()}
        probability[(UNK,)] = min(probability.values()) / 10  # unseen words: rare, not impossible
        logprobs, backoffs = {(BOS,): -99.0}, {}
        logprobs.update({gram: math.log10(p) for gram, p in probability.items()})
        for n in range(2, order + 1):
            context_total, followers = Counter(), defaultdict(int)
            for gram, count in counts[n].items():
                context_total[gram[:-1]] += count
                followers[gram[:-1]] += 1
            for context in context_total:
                backoffs[context] = math.log10(discount * followers[context] / context_total[context])
            for gram, count in counts[n].items():
                lower = 10 ** _backed_off(logprobs, backoffs, gram[1:])
                weight = 10 ** backoffs[gram[:-1]]
                p = (count - discount) / context_total[gram[:-1]] + weight * lower
                logprobs[gram] = math.log10(p)
        return cls(order, logprobs, backoffs)

    @classmethod
    def from_arpa(cls, path):
        """Read an ARPA file (the text format of SRILM and KenLM).

        Raises:
            ValueError: naming the file and line that is not ARPA.
        """
        path = Path(path)
        logprobs, backoffs, order, section = {}, {}, 0, None
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line in ("\\data\\", "\\end\\") or line.startswith("ngram "):
                continue
            if line.startswith("\\") and line.endswith("-grams:"):
                section = int(line[1:-len("-grams:")])
                order = max(order, section)
                continue
            fields = line.split()
            try:
                if section is None or len(fields) not in (section + 1, section + 2):
                    raise ValueError(f"expected {section} words between a log10 probability and "
                                     "an optional backoff weight")
                gram = tuple(fields[1:section + 1])
                logprobs[gram] = float(fields[0])
                if len(fields) == section + 2:
                    backoffs[gram] = float(fields[-1])
            except ValueError as error:
                raise ValueError(f"{path}, line {number}: not an ARPA n-gram line ({error}): "
                                 f"{line[:80]!r}") from error
        if not logprobs:
            raise ValueError(f"{path} holds no n-grams: is it an ARPA file?")
        return cls(order, logprobs, backoffs)

    def to_arpa(self, path):
        """Write the model as an ARPA file that ``from_arpa`` (or KenLM) reads back."""
        by_order = defaultdict(list)
        for gram in self.logprobs:
            by_order[len(gram)].append(gram)
        lines = ["\\data\\"] + [f"ngram {n}={len(by_order[n])}" for n in sorted(by_order)]
        for n in sorted(by_order):
            lines += ["", f"\\{n}-grams:"]
            for gram in sorted(by_order[n]):
                backoff = f"\t{self.backoffs[gram]:.6f}" if gram in self.backoffs else ""
                lines.append(f"{self.logprobs[gram]:.6f}\t{' '.join(gram)}{backoff}")
        Path(path).write_text("\n".join(lines + ["", "\\end\\", ""]))

    def log10_probability(self, context, word):
        """log10 P(word | context); ``context`` is a tuple of the previous words."""
        known = word if word in self.vocabulary or word == EOS else UNK
        return _backed_off(self.logprobs, self.backoffs, self.context(context) + (known,))

    def context(self, words):
        """The last ``order - 1`` of ``words``: all that the next word's probability depends on."""
        return tuple(words)[len(words) - self.order + 1:] if self.order > 1 else ()


def _backed_off(logprobs, backoffs, gram):
    """log10 P(gram[-1] | gram[:-1]) by the backoff rule of ARPA models."""
    weight = 0.0
    while gram not in logprobs and len(gram) > 1:
        weight += backoffs.get(gram[:-1], 0.0)
        gram = gram[1:]
    return weight + logprobs.get(gram, logprobs.get((UNK,), -99.0))


class _LexiconLanguageModel(AbstractLanguageModel):
    """pyctcdecode's view of an ``NgramModel`` with a lexicon: states are word contexts."""

    def __init__(self, model, lexicon, alpha, beta, unk_score_offset):
        from pygtrie import CharTrie

        self.model, self.lexicon = model, set(lexicon)
        self.prefixes = CharTrie.fromkeys(self.lexicon)
        self.alpha, self.beta, self.unk_score_offset = alpha, beta, unk_score_offset

    @property
    def order(self):
        return self.model.order

    def get_start_state(self):
        return self.model.context((BOS,))

    def score_partial_token(self, partial_token):
        """A penalty once the partial word is no prefix of a lexicon word."""
        return 0.0 if self.prefixes.has_node(partial_token) else self.unk_score_offset

    def score(self, prev_state, word, is_last_word=False):
        score = self.model.log10_probability(prev_state, word)
        if word not in self.lexicon:
            score += self.unk_score_offset
        state = self.model.context(prev_state + (word,))
        if is_last_word:
            score += self.model.log10_probability(state, EOS)
        return self.alpha * score * math.log(10) + self.beta, state


def beam_decoder(language_model=None, lexicon=None, alpha=0.5, beta=1.0, unk_score_offset=-10.0):
    """A prefix beam-search decoder over our 29 outputs (28 characters and the blank).

    Args:
        language_model: an ``NgramModel``, or ``None`` for beam search alone.
        lexicon: the words that may be spelt (default: the model's vocabulary).
        alpha: weight of the language model's natural-log probability.
        beta: bonus per word (it offsets the language model's cost of every word).
        unk_score_offset: natural-log penalty of a word outside the lexicon.
    """
    if language_model is None:
        return BeamSearchDecoderCTC(Alphabet.build_alphabet(LABELS))
    lexicon = language_model.vocabulary if lexicon is None else lexicon
    scorer = _LexiconLanguageModel(language_model, lexicon, alpha, beta, unk_score_offset)
    return BeamSearchDecoderCTC(Alphabet.build_alphabet(LABELS), scorer)


def beam_decode(probabilities, output_lengths, decoder, beam_width=25):
    """Decode a batch of per-frame probabilities with a ``beam_decoder``.

    Args:
        probabilities: ``(batch, frames, 29)`` softmax outputs (blank last).
        output_lengths: ``(batch,)`` valid frames of each row.
        decoder: from ``beam_decoder``.
        beam_width: hypotheses kept per frame.

    Returns:
        A list of ``batch`` transcripts.
    """
    log_probabilities = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, 1.0))
    return [" ".join(decoder.decode(row[:int(length)], beam_width=beam_width).split())
            for row, length in zip(log_probabilities, output_lengths)]


if __name__ == "__main__":
    refuse_to_run_as_command("decoding")
