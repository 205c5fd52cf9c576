"""Closed-vocabulary decoding: a word n-gram language model and a lexicon beam search.

``NgramModel`` is a backed-off word n-gram model, estimated from transcripts
(interpolated absolute discounting) or read from an ARPA file, and written as one.
``LexiconBeamSearch`` decodes a model's per-frame character probabilities by CTC
prefix beam search over a prefix tree of the lexicon: a hypothesis may only grow
a prefix of a lexicon word, a space may only follow a whole word, and the result
is chosen among hypotheses that end on a whole word. So every word it writes is
in the lexicon, whatever the probabilities. With a language model, each word
adds ``alpha * ln P(word | previous words) + beta`` to its hypothesis's score.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("beam_search")

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from char_map import BLANK_INDEX, char_map

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


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


class LexiconBeamSearch:
    """CTC prefix beam search that can only spell words of a lexicon.

    Args:
        lexicon: the words that may be written (lower-case, characters of
            ``char_map``, no spaces).
        language_model: an ``NgramModel`` scoring each word given the ones
            before it, or ``None`` for the lexicon alone.
        alpha: weight of the language model's natural-log probability.
        beta: bonus per word written (it offsets the language model's cost of
            every word, which would otherwise favour fewer, longer words).
        beam_width: hypotheses kept after every frame.
        token_min_logp: characters less likely than ``exp(token_min_logp)`` in a
            frame do not start or extend a hypothesis there (the blank always
            may); it prunes work, never the lexicon guarantee.
    """

    def __init__(self, lexicon, language_model=None, alpha=0.5, beta=1.0, beam_width=25,
                 token_min_logp=-10.0):
        self.words = frozenset(lexicon)
        bad = sorted(w for w in self.words if not w or set(w) - set(char_map) or " " in w)
        if bad or not self.words:
            raise ValueError(f"a lexicon needs words of the characters a-z and apostrophe; "
                             f"got {bad[:3] if bad else 'no words'}.")
        self.children = defaultdict(dict)  # prefix -> {next character: its class index}
        for word in self.words:
            for end in range(len(word)):
                self.children[word[:end]][word[end]] = char_map[word[end]]
        self.language_model, self.alpha, self.beta = language_model, alpha, beta
        self.beam_width, self.token_min_logp = beam_width, token_min_logp
        self._word_scores = {}

    def _score(self, words, final=False):
        """Language-model score of a sequence of words (and of its end, with ``final``)."""
        if self.language_model is None:
            return 0.0
        key = (words, final)
        if key not in self._word_scores:
            if not words:
                score = 0.0
            else:
                score = self._score(words[:-1]) + self.beta + self.alpha * math.log(10) * \
                    self.language_model.log10_probability((BOS,) + words[:-1], words[-1])
            if final:
                score += self.alpha * math.log(10) * \
                    self.language_model.log10_probability((BOS,) + words, EOS)
            self._word_scores[key] = score
        return self._word_scores[key]

    def decode(self, log_probabilities):
        """The transcript of one utterance.

        Args:
            log_probabilities: ``(frames, 29)`` natural-log probabilities of the
                28 characters and the blank (index 28), the valid frames only.

        Returns:
            The words, separated by single spaces; every one is in the lexicon
            (the empty string if no hypothesis holds a whole word).
        """
        space = char_map[" "]
        beams = {((), ""): (0.0, -math.inf)}  # (words, partial word): (log P ends in blank, else)
        for row in np.asarray(log_probabilities, np.float64).tolist():
            likely = {index for index, logp in enumerate(row[:BLANK_INDEX])
                      if logp > self.token_min_logp}
            blank = row[BLANK_INDEX]
            grown = defaultdict(lambda: [-math.inf, -math.inf])
            for (words, partial), (ends_blank, ends_symbol) in beams.items():
                total = _log_add(ends_blank, ends_symbol)
                stay = grown[words, partial]
                stay[0] = _log_add(stay[0], total + blank)
                last = char_map[partial[-1]] if partial else (space if words else None)
                if last is not None:  # the last symbol repeated: CTC merges it
                    stay[1] = _log_add(stay[1], ends_symbol + row[last])
                for char, index in self.children.get(partial, {}).items():
                    if index in likely:  # a doubled letter needs a blank between its frames
                        before = ends_blank if index == last else total
                        entry = grown[words, partial + char]
                        entry[1] = _log_add(entry[1], before + row[index])
                if partial in self.words and space in likely:
                    entry = grown[words + (partial,), ""]
                    entry[1] = _log_add(entry[1], total + row[space])
            ranked = sorted(grown.items(), reverse=True,
                            key=lambda item: _log_add(*item[1]) + self._score(item[0][0]))
            beams = {key: tuple(value) for key, value in ranked[:self.beam_width]}
        finished = {}
        for (words, partial), value in beams.items():
            if partial and partial not in self.words:
                continue  # ends inside a word: not a transcript
            words = words + (partial,) if partial else words
            score = _log_add(*value) + self._score(words, final=True)
            if score > finished.get(words, -math.inf):
                finished[words] = score
        if not finished:  # every hypothesis ends inside a word: keep the whole words
            words, _ = max(beams, key=lambda key: _log_add(*beams[key]) + self._score(key[0]))
            return " ".join(words)
        return " ".join(max(finished, key=finished.get))


def _log_add(a, b):
    """``log(exp(a) + exp(b))`` of two Python floats, ``-inf`` allowed."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))
