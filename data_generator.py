"""The data stage of the VUI track: corpora in, batches out.

``AudioGenerator`` loads a training and a validation corpus (description files),
computes their features once (cached in memory and on disk), normalises each
utterance with its own statistics and serves them as Keras ``PyDataset``
batches for CTC, bucketed by length (``CTCBatches``); the plotting helpers show
one utterance's audio and features. The digit track's data stage is
``digit_images.py``.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("data_generator")

import ctypes
import json
import warnings
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import soundfile

from plumbing import DATA_DIR, atomic_path, cache_file, ensure_writable, progress
from utils import (load_audio, log_spectrogram, mfcc_features, normalize_transcript,
                   spectrogram_dim, text_to_int_sequence)

DIGITS_TRAIN_JSON = DATA_DIR / "digits" / "train_corpus.json"
DIGITS_VALID_JSON = DATA_DIR / "digits" / "valid_corpus.json"
# Batches reach Keras through PyDatasets with two worker threads. With Keras's default
# single worker, fit reads them through a tf.data prefetch iterator that it tears down at
# the end of every epoch, which stalls the next epoch's first step (README, "Speed"). Two
# workers take Keras's enqueuer path instead: the same batches in the same order, no stall.
KERAS_WORKERS = 2


def keep_large_allocations_in_heap():
    """Stop glibc from serving large blocks with mmap (Linux only; a no-op elsewhere).

    Once ``fit`` has read batches through ``tf.data.Dataset.from_generator``, the
    XLA train step's buffers (tens of MB per step) come from fresh mmaps that are
    unmapped after every step, so each step faults its memory in again: measured on
    Model 4 at 1.47 million page faults per 30 steps and 1.7x the step time
    (``benchmarks/speed.py``, README "Speed"). Keeping such blocks in the heap lets
    malloc reuse them. Returns True where the setting was applied.
    """
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(-4, 0))  # M_MMAP_MAX = 0
    except (OSError, AttributeError):
        return False


keep_large_allocations_in_heap()

_memory_cache = {}  # cache file name -> list of feature arrays


def load_description_file(path, max_duration=10.0):
    """Read a JSON-lines description file.

    Args:
        path: file with one ``{"key", "duration", "text"}`` object per line;
            relative keys are relative to the file's folder.
        max_duration: utterances longer than this many seconds are skipped; one
            printed line says how many.

    Returns:
        A list of dicts with ``key`` (absolute path string), ``duration``
        (seconds), ``text`` (normalised transcript) and ``style`` (the digit
        corpus's ``paused`` or ``connected``; ``''`` where a corpus has none), in
        file order.

    Raises:
        FileNotFoundError: the description file or listed audio files are missing.
        ValueError: a malformed line or a missing or empty transcript, named by
            its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"description file not found: {path}. Build the corpus "
                                "first, e.g. `python prepare_data.py digits`.")
    utterances, missing, too_long = [], [], 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            entry = json.loads(line)
            key, duration, text = entry["key"], float(entry["duration"]), entry["text"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{where}: expected a JSON object with 'key', 'duration' and "
                             f"'text', got {line[:120]!r} ({error!r}).") from error
        if not isinstance(text, str):
            raise ValueError(f"{where}: 'text' must be the transcript as a string, got "
                             f"{text!r}. Write the words that are spoken.")
        text = normalize_transcript(text, utterance=where)
        if not text:
            raise ValueError(f"{where}: the transcript is empty; CTC needs at least one "
                             "character to learn from. Write the words that are spoken, or "
                             "remove the line.")
        if duration > max_duration:
            too_long += 1
            continue
        audio = path.parent / key
        if not audio.is_file():
            missing.append(f"{audio} ({where})")
        utterances.append({"key": str(audio), "duration": duration, "text": text,
                           "style": str(entry.get("style", ""))})
    if missing:
        raise FileNotFoundError(f"{len(missing)} audio files listed in {path} are missing, "
                                f"e.g. {missing[:3]}. Rebuild the corpus with prepare_data.py.")
    if too_long:
        print(f"{path.name}: skipped {too_long} of {too_long + len(utterances)} utterances "
              f"longer than max_duration={max_duration} s")
    return utterances


def corpus_sample_rate(utterances):
    """The corpus's sample rate in Hz: the rate most of its audio files have.

    Files at another rate are resampled to it when featurised; a warning says
    how many there are and names one.

    Raises:
        ValueError: a file's header cannot be read, naming the file.
    """
    rates = {}
    for utterance in utterances:
        try:
            rate = soundfile.info(utterance["key"]).samplerate
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise ValueError(f"cannot read audio file {utterance['key']} ({error}). The file is "
                             "damaged or not audio: replace it, or remove its line from the "
                             "description file.") from error
        rates.setdefault(rate, []).append(utterance["key"])
    corpus_rate = max(sorted(rates), key=lambda rate: len(rates[rate]))  # a tie: the lower rate
    others = [(key, rate) for rate, keys in rates.items() if rate != corpus_rate for key in keys]
    if others:
        warnings.warn(f"{len(others)} of {len(utterances)} audio files are not at the corpus's "
                      f"rate of {corpus_rate} Hz (e.g. {others[0][0]} at {others[0][1]} Hz); "
                      "they are resampled to it.", stacklevel=2)
    return corpus_rate


class Featurizer:
    """Turns audio files into spectrogram or MFCC features of one corpus.

    Args:
        sample_rate: the corpus's rate in Hz; files at another rate are resampled.
        spectrogram: log spectrogram if True, else MFCC.
        mfcc_dim: number of cepstral coefficients (MFCC only).
        step, window: hop and frame length in milliseconds.
        max_freq: highest spectrogram frequency in Hz (default: Nyquist).
    """

    def __init__(self, sample_rate, spectrogram=True, mfcc_dim=13, step=10, window=20,
                 max_freq=None):
        self.settings = {"sample_rate": int(sample_rate), "spectrogram": bool(spectrogram),
                         "mfcc_dim": int(mfcc_dim), "step": step, "window": window,
                         "max_freq": max_freq}

    @property
    def input_dim(self):
        """Features per frame: 161 for 16 kHz or 81 for 8 kHz spectrograms, mfcc_dim for MFCC."""
        s = self.settings
        if s["spectrogram"]:
            return spectrogram_dim(s["sample_rate"], s["window"], s["max_freq"])
        return s["mfcc_dim"]

    def __call__(self, audio_path):
        """Features of one file, shape ``(frames, input_dim)``, float32, not normalised."""
        s = self.settings
        samples, rate = load_audio(audio_path, sample_rate=s["sample_rate"])
        try:
            if s["spectrogram"]:
                return log_spectrogram(samples, rate, s["step"], s["window"], s["max_freq"])
            return mfcc_features(samples, rate, s["mfcc_dim"], s["step"])
        except ValueError as error:
            raise ValueError(f"{audio_path}: {error}") from error

    def corpus_features(self, audio_paths):
        """Features of many files, computed once and then read from the caches.

        The cache is keyed by the feature settings and by each file's path, size
        and modification time, so a changed file or setting is recomputed.

        Returns:
            A list of ``(frames, input_dim)`` float32 arrays, one per path.
        """
        if not audio_paths:
            return []
        stored_at = cache_file("features", self.settings, audio_paths)
        if stored_at.name in _memory_cache:
            return _memory_cache[stored_at.name]
        if stored_at.is_file():
            with np.load(stored_at) as stored:
                features = np.split(stored["frames"], np.cumsum(stored["lengths"])[:-1])
        else:
            ensure_writable(stored_at.parent)  # before the work, not after it
            features = [self(path) for path in progress(audio_paths, desc="computing features",
                                                          unit="file")]
            with atomic_path(stored_at) as partial:
                np.savez(partial, frames=np.concatenate(features),
                         lengths=np.array([len(f) for f in features]))
        _memory_cache[stored_at.name] = features
        return features


class CTCBatches(keras.utils.PyDataset):
    """Padded batches for CTC training, bucketed by length.

    Each item is ``(inputs, zeros)`` where ``inputs`` holds
    ``the_input`` (batch, frames, input_dim) float32, ``the_labels`` (batch,
    longest transcript in the corpus) int32, ``input_length`` and
    ``label_length`` (batch, 1) int32. Frames are padded up to a multiple of
    ``pad_to`` so that only a few distinct shapes reach the compiled train step:
    XLA compiles it once per shape (a few seconds each), and 64 frames keep the
    digit corpus to about 10 shapes for some 14% of padded frames.

    With ``shuffle``, utterances are drawn in random pools of 50 batches, sorted
    by length within a pool and cut into batches whose order is shuffled, anew
    every epoch. Without it, batches go in order of length (deterministic).
    ``sort_by_duration`` serves the first epoch in order of length (SortaGrad).
    """

    def __init__(self, features, texts, batch_size=20, shuffle=True, sort_by_duration=False,
                 pad_to=64, seed=0):
        super().__init__(workers=KERAS_WORKERS)
        self.features = features
        self.label_lengths = np.array([len(text) for text in texts], np.int32)
        self.labels = pad_batch([np.array(text_to_int_sequence(text), np.int32)
                                 for text in texts])
        self.lengths = np.array([len(f) for f in features])
        self.batch_size, self.shuffle, self.pad_to = batch_size, shuffle, pad_to
        self.rng = np.random.default_rng(seed)
        self.batches = self._sorted_batches(np.argsort(self.lengths, kind="stable"))
        if shuffle and not sort_by_duration:
            self.on_epoch_end()
        # Keras fixes the batch signature from the first two batches: any frame
        # count they share would be taken for a constant. Serving the shortest
        # and the longest batch first keeps the time axis variable.
        longest = [self.lengths[batch].max() for batch in self.batches]
        first, second = int(np.argmin(longest)), int(np.argmax(longest))
        if first != second:
            self.batches = [self.batches[first], self.batches[second]] + [
                batch for i, batch in enumerate(self.batches) if i not in (first, second)]

    def _sorted_batches(self, order):
        return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def on_epoch_end(self):
        """Draw new batches for the next epoch (shuffled datasets only)."""
        if not self.shuffle:
            return
        order, pool = self.rng.permutation(len(self.features)), 50 * self.batch_size
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start:start + pool]
            batches += self._sorted_batches(chunk[np.argsort(self.lengths[chunk], kind="stable")])
        self.batches = [batches[i] for i in self.rng.permutation(len(batches))]

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        members = self.batches[index]
        return ({"the_input": pad_batch([self.features[i] for i in members], self.pad_to),
                 "the_labels": self.labels[members],
                 "input_length": self.lengths[members].astype(np.int32)[:, None],
                 "label_length": self.label_lengths[members][:, None]},
                np.zeros(len(members), np.float32))


def pad_batch(sequences, pad_to=16):
    """Stack sequences of different lengths, zero-padded at the end.

    Args:
        sequences: arrays of shape ``(length_i, ...)`` with equal trailing shapes.
        pad_to: the padded length is the longest length rounded up to a multiple
            of this, so that few distinct shapes reach a compiled model.

    Returns:
        Array of shape ``(len(sequences), padded_length, ...)``, the first
        sequence's dtype.
    """
    longest = max(len(s) for s in sequences)
    batch = np.zeros((len(sequences), -(-longest // pad_to) * pad_to, *sequences[0].shape[1:]),
                     sequences[0].dtype)
    for row, sequence in enumerate(sequences):
        batch[row, :len(sequence)] = sequence
    return batch


def normalize(features, eps=1e-3):
    """Per-utterance mean and variance normalisation (CMVN) of ``(frames, dims)`` features.

    Each feature dimension is shifted and scaled to mean 0 and standard deviation
    1 over the utterance's own frames, as float32. A voice, a microphone and a
    room colour all frames of an utterance alike (some frequencies louder, some
    quieter); the utterance's own statistics remove that colouring, which
    statistics of the training speakers cannot do for a new voice. ``eps`` (in
    the features' units) keeps a dimension that never varies at 0.
    """
    return ((features - features.mean(axis=0)) / (features.std(axis=0) + eps)).astype(np.float32)


class AudioGenerator:
    """Features and CTC batches of a training corpus and an optional validation corpus.

    Args:
        train_json, valid_json: description files (``valid_json=None``: none).
        spectrogram: spectrogram features if True, MFCC if False.
        mfcc_dim: MFCC coefficients per frame.
        minibatch_size: utterances per batch.
        max_duration: longer utterances (seconds) are skipped.
        sort_by_duration: first training epoch in order of length.

    Attributes:
        train, valid: lists of utterance dicts (key, duration, text).
        input_dim: features per frame, for building models.
        train_features, valid_features: each utterance's features, normalised
            (``normalize``), shape ``(frames, input_dim)``.
    """

    def __init__(self, train_json=DIGITS_TRAIN_JSON, valid_json=DIGITS_VALID_JSON,
                 spectrogram=True, mfcc_dim=13, minibatch_size=20, max_duration=10.0,
                 sort_by_duration=False):
        self.train = load_description_file(train_json, max_duration)
        if not self.train:
            raise ValueError(f"{train_json} lists no utterance of at most {max_duration} s.")
        self.valid = load_description_file(valid_json, max_duration) if valid_json else []
        if valid_json and not self.valid:  # it would score every epoch "WER 0.0"
            raise ValueError(f"{valid_json} lists no utterance of at most {max_duration} s: it "
                             "cannot score the epochs. Pass a validation corpus with utterances, "
                             "or valid_json=None to train without one.")
        self.featurizer = Featurizer(corpus_sample_rate(self.train), spectrogram, mfcc_dim)
        self.minibatch_size, self.sort_by_duration = minibatch_size, sort_by_duration
        self.train_features, self.valid_features = (
            [normalize(f) for f in self.featurizer.corpus_features([u["key"] for u in corpus])]
            for corpus in (self.train, self.valid))

    @property
    def input_dim(self):
        """Features per frame (161 for 16 kHz spectrograms, 81 for 8 kHz, 13 for MFCC)."""
        return self.featurizer.input_dim

    @property
    def steps_per_epoch(self):
        """Training batches per epoch (``minibatch_size`` utterances each, the last maybe fewer)."""
        return len(self.train_batches())

    def train_batches(self):
        """Shuffled, length-bucketed training batches (a ``CTCBatches``)."""
        return CTCBatches(self.train_features, [u["text"] for u in self.train],
                          self.minibatch_size, shuffle=True,
                          sort_by_duration=self.sort_by_duration)

    def valid_batches(self):
        """Validation batches in order of length (a ``CTCBatches``)."""
        if not self.valid:
            raise ValueError("this AudioGenerator has no validation corpus.")
        return CTCBatches(self.valid_features, [u["text"] for u in self.valid],
                          self.minibatch_size, shuffle=False)


# ------------------------------------------------------------------ visualisation

def vis_train_features(index=0, train_json=DIGITS_TRAIN_JSON):
    """One training utterance, ready to look at (its features computed for it alone).

    Returns:
        ``(text, raw_audio, mfcc, spectrogram, audio_path)``: the transcript, the
        samples at the file's rate, normalised MFCC ``(frames, 13)`` and
        normalised spectrogram ``(frames, input_dim)`` features, and the path.
    """
    utterance = load_description_file(train_json)[index]
    raw_audio, rate = load_audio(utterance["key"])
    mfcc, spectrogram = (normalize(Featurizer(rate, spectrogram=kind)(utterance["key"]))
                         for kind in (False, True))
    return utterance["text"], raw_audio, mfcc, spectrogram, utterance["key"]


def corpus_summary(description_files):
    """Strings, minutes of audio and mean duration of each set, style and kind of voice.

    Args:
        description_files: ``{set name: description file}``.

    Returns:
        A DataFrame with one row per set, style and voice (``recorded`` or
        ``synthetic``): ``strings``, ``minutes`` and ``s per string`` (seconds),
        ``words per string``.
    """
    import pandas as pd

    from tts_voices import is_synthetic

    rows = []
    for name, path in description_files.items():
        lines = Path(path).read_text().splitlines()
        speakers = [json.loads(line).get("speaker", "") for line in lines if line.strip()]
        for utterance, speaker in zip(load_description_file(path, max_duration=float("inf")),
                                      speakers):
            rows.append({"set": name, "style": utterance["style"] or "all",
                         "voice": "synthetic" if is_synthetic(speaker) else "recorded",
                         "seconds": utterance["duration"],
                         "words": len(utterance["text"].split())})
    table = pd.DataFrame(rows)
    for column, order in (("set", list(description_files)), ("style", ["paused", "connected", "all"]),
                          ("voice", ["recorded", "synthetic"])):
        table[column] = pd.Categorical(table[column], order)
    table = table.groupby(["set", "style", "voice"], observed=True).agg(
        strings=("seconds", "size"), minutes=("seconds", "sum"),
        seconds_per_string=("seconds", "mean"), words_per_string=("words", "mean"))
    table["minutes"] /= 60
    return table.rename(columns={"seconds_per_string": "s per string",
                                 "words_per_string": "words per string"})


def plot_style_examples(examples, rate, title):
    """Waveforms and spectrograms of the same digits joined in each style, one row per style.

    Args:
        examples: ``{style: samples}`` (``digit_corpus.style_examples``).
        rate: their sample rate in Hz.
        title: the figure's title.

    Returns:
        The matplotlib figure; the time axes are shared, so the shorter string is
        seen to be shorter.
    """
    longest = max(len(samples) for samples in examples.values()) / rate
    fig, axes = plt.subplots(len(examples), 2, figsize=(14, 2.6 * len(examples)),
                             sharex=True, layout="constrained")
    for (style, samples), (wave, image) in zip(examples.items(), axes):
        seconds = np.arange(len(samples)) / rate
        wave.plot(seconds, samples, linewidth=0.6)
        wave.set(title=f"{style}: waveform", ylabel="amplitude", xlim=(0, longest))
        spectrum = log_spectrogram(samples, rate)
        image.imshow(spectrum.T, origin="lower", aspect="auto", cmap="viridis",
                     extent=(0, len(spectrum) / 100, 0, rate / 2000))
        image.set(title=f"{style}: log spectrogram", ylabel="frequency (kHz)")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(title)
    return fig


def plot_raw_audio(raw_audio, sample_rate, title="Audio signal"):
    """Waveform with time in seconds on the x axis."""
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.plot(np.arange(len(raw_audio)) / sample_rate, raw_audio, linewidth=0.6)
    ax.set(title=title, xlabel="time (s)", ylabel="amplitude", xlim=(0, len(raw_audio) / sample_rate))
    return fig


def _plot_features(features, title, ylabel, top, step_ms=10):
    fig, ax = plt.subplots(figsize=(12, 4))
    image = ax.imshow(features.T, origin="lower", aspect="auto", cmap="viridis",
                      extent=(0, len(features) * step_ms / 1000, 0, top))
    fig.colorbar(image, ax=ax, label="normalised value")
    ax.set(title=title, xlabel="time (s)", ylabel=ylabel)
    return fig


def plot_spectrogram_feature(features, max_freq=None, title="Normalised spectrogram"):
    """Spectrogram ``(frames, bins)`` as an image: time across, frequency up.

    With ``max_freq`` (Hz, the highest bin's frequency) the y axis is in Hz.
    """
    if max_freq:
        return _plot_features(features, title, "frequency (Hz)", max_freq)
    return _plot_features(features, title, "frequency bin", features.shape[1])


def plot_mfcc_feature(features, title="Normalised MFCC"):
    """MFCC ``(frames, coefficients)`` as an image: time across, coefficient up."""
    return _plot_features(features, title, "MFCC coefficient", features.shape[1])
