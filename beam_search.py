"""Beam-search decoding with a lexicon and a word n-gram language model.

Greedy decoding (``train_utils.greedy_decode``) takes the likeliest character of
every frame on its own, so it can spell words that do not exist ("thwo"). Prefix
beam search (pyctcdecode) keeps the ``beam_width`` likeliest transcriptions while
it reads the frames, and, given a language model, adds to each hypothesis

    alpha * log P(words) + beta * number of words,

where ``P`` comes from a word n-gram model and a word outside the lexicon costs
``unk_score_offset``. ``NgramModel`` is that model: estimated from transcripts
(interpolated absolute discounting) or read from an ARPA file, and written as one.
"""

import logging
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from char_map import NUM_CLASSES, index_map
from utils import refuse_to_run_as_command

logging.getLogger("pyctcdecode").setLevel(logging.ERROR)  # it warns at import that kenlm is absent
from pyctcdecode import Alphabet, BeamSearchDecoderCTC  # noqa: E402
from pyctcdecode.language_model import AbstractLanguageModel  # noqa: E402

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
    refuse_to_run_as_command("beam_search")
