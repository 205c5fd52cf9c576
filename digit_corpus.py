"""The VUI track's default corpus: digit strings made of FSDD recordings, paused or connected.

A string joins 1 to ``max_digits`` recordings of one speaker in one of two styles:

- **paused**: each recording as FSDD has it, with a short random pause after it;
- **connected**: each recording trimmed to its voiced part, played faster or slower
  (``tempo``, pitch kept) and overlapped with the next one by a short crossfade, so
  that one digit runs into the next as in "three one four" said in one breath.

The takes of every speaker and digit are split three ways, so that no recording is
heard in two sets: takes 10-49 train, takes 5-9 validate (they pick the epoch kept)
and takes 0-4, FSDD's official test takes, test. Validation and test sets hold both
styles, alternately; each training string is connected with probability
``connected_share``. Strings are drawn one after the other, so a smaller corpus
with the same seed is the start of a larger one (the quick mode's corpus too).
The connected strings of the validation and test sets are always made the same way
(``EVALUATION_STYLE``), whatever the training strings use, so that every design is
scored on the same speech. A corpus without one speaker (``hold_out``) trains on
the five others and tests on every take of the held-out one.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("digit_corpus")

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np

from fsdd import DIGIT_WORDS, FSDD_SPEAKERS, check_fsdd, parse_fsdd_name
from plumbing import DATA_DIR, atomic_path, exclusive_lock, progress, project_path

STYLES = ("paused", "connected")
SPLIT_TAKES = {"train": range(10, 50), "valid": range(5, 10), "test": range(0, 5)}
RATE = 8000  # Hz, FSDD's sample rate
CORPUS_VERSION = 3


@dataclasses.dataclass(frozen=True)
class ConnectedStyle:
    """How connected strings are made.

    Attributes:
        tempo: range of the speaking rate, as a factor of the recording's own
            (1.2: 20% faster); one rate per string, drawn uniformly. The pitch is kept.
        overlap_ms: range of the crossfade between two neighbouring digits, in ms.
        trim_db: silence more than this many dB below a recording's peak is cut
            from its start and end before joining.
    """

    tempo: tuple = (0.9, 1.25)
    overlap_ms: tuple = (0.0, 30.0)
    trim_db: float = 30.0


EVALUATION_STYLE = ConnectedStyle()  # the connected validation and test strings, always


_clips_read = {}  # (first recording, trim_db) -> _load_clips's answer, for this process


def _load_clips(recordings, trim_db):
    """``{split: {(speaker, digit): [(name, samples, trimmed samples)]}}`` of FSDD's recordings.

    Read once per process: the six folds of a leave-one-speaker-out study build their
    corpora from the same recordings.
    """
    import librosa

    from utils import load_audio

    key = (str(recordings[0]), trim_db)
    if key in _clips_read:
        return _clips_read[key]
    clips = {split: {} for split in SPLIT_TAKES}
    for path in recordings:
        digit, speaker, take = parse_fsdd_name(path.name)
        samples, _ = load_audio(path, sample_rate=RATE)
        trimmed, _ = librosa.effects.trim(samples, top_db=trim_db, frame_length=256,
                                          hop_length=64)
        split = next(name for name, takes in SPLIT_TAKES.items() if take in takes)
        clips[split].setdefault((speaker, digit), []).append((path.name, samples, trimmed))
    _clips_read[key] = clips
    return clips


def _time_stretched(samples, tempo):
    """``samples`` played ``tempo`` times as fast with their pitch kept (phase vocoder)."""
    import librosa

    if tempo == 1.0:
        return samples
    # 32 ms frames: librosa's default of 256 ms is longer than most FSDD digits.
    return librosa.effects.time_stretch(samples, rate=tempo, n_fft=256, hop_length=64)


def _crossfaded(pieces, overlaps):
    """``pieces`` joined end to start, neighbours overlapping by ``overlaps`` samples (linear fade)."""
    out = pieces[0]
    for piece, overlap in zip(pieces[1:], overlaps):
        overlap = int(min(overlap, len(out), len(piece)))
        if overlap == 0:
            out = np.concatenate([out, piece])
            continue
        fade = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
        joint = out[-overlap:] * (1 - fade) + piece[:overlap] * fade
        out = np.concatenate([out[:-overlap], joint, piece[overlap:]])
    return out


def synthesize_string(rng, clips, speaker, digits, style, connected=EVALUATION_STYLE):
    """One digit string: ``(samples, names)``, float32 mono at 8 kHz in [-1, 1].

    Args:
        rng: a NumPy ``Generator``; every random choice is drawn from it.
        clips: ``{(speaker, digit): [(name, samples, trimmed samples)]}`` of one split.
        speaker: whose recordings are joined.
        digits: the digits said, in order.
        style: ``'paused'`` or ``'connected'``.
        connected: how a connected string is made (``ConnectedStyle``).
    """
    chosen = [clips[speaker, digit][rng.integers(len(clips[speaker, digit]))] for digit in digits]
    gains = 10 ** (rng.uniform(-2, 2, size=len(digits)) / 20)  # +/-2 dB from digit to digit
    lead = np.zeros(int(RATE * rng.uniform(0.02, 0.1)), np.float32)
    if style == "paused":
        pieces = [lead]
        for position, ((_, samples, _), gain) in enumerate(zip(chosen, gains)):
            pause = rng.uniform(0.02, 0.1) if position == len(digits) - 1 else rng.uniform(0.04, 0.2)
            pieces += [samples * gain, np.zeros(int(RATE * pause), np.float32)]
        samples = np.concatenate(pieces)
    elif style == "connected":
        tempo = rng.uniform(*connected.tempo)
        spoken = [_time_stretched(trimmed, tempo) * gain
                  for (_, _, trimmed), gain in zip(chosen, gains)]
        overlaps = RATE / 1000 * rng.uniform(*connected.overlap_ms, size=len(digits) - 1)
        tail = np.zeros(int(RATE * rng.uniform(0.02, 0.1)), np.float32)
        samples = np.concatenate([lead, _crossfaded(spoken, overlaps), tail])
    else:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}.")
    peak = max(float(np.abs(samples).max()), 1e-6)
    samples = samples * min(10 ** (rng.uniform(-6, 6) / 20), 0.95 / peak)
    speech_rms = np.sqrt(np.mean(samples ** 2))
    noise_rms = speech_rms * 10 ** (-rng.uniform(25, 45) / 20)  # faint noise, 25-45 dB down
    samples = samples + rng.normal(0, noise_rms, size=samples.shape)
    return np.clip(samples, -1, 1).astype(np.float32), [name for name, _, _ in chosen]


def _style(rng, number, connected_share):
    """The style of string ``number``: alternating for ``None`` (half and half), else drawn.

    Each string's style and content come from draws in string order, so a smaller
    corpus built with the same seed is the start of a larger one.
    """
    if connected_share is None:
        return STYLES[number % 2]
    return "connected" if rng.random() < connected_share else "paused"


def build_digit_corpus(fsdd_dir, out_dir=DATA_DIR / "digits", train_size=1600, valid_size=320,
                       test_size=320, max_digits=7, seed=0, hold_out=None, connected_share=0.5,
                       training_style=EVALUATION_STYLE, synthetic_share=0.0):
    """Build the digit-string corpus: audio and three description files.

    Each line of a description file holds ``key`` (the WAV file, relative to the
    file's folder), ``duration`` (s), ``text``, ``style`` (``paused`` or
    ``connected``), ``speaker`` and ``sources`` (the FSDD recordings joined).

    Args:
        fsdd_dir: FSDD's recordings folder (checked first).
        out_dir: the corpus folder.
        train_size, valid_size, test_size: strings in each set (>= 1 each).
        max_digits: the longest string, in digits (1 to 20).
        seed: the same arguments give the same bytes.
        hold_out: a speaker's name: train and validate on the five others, test
            on every take of this one (a voice never heard in training).
        connected_share: probability that a training string is connected (0 to 1).
        training_style: how the connected training strings are made; validation
            and test strings always use ``EVALUATION_STYLE``.
        synthetic_share: probability that a training string is said by one of the
            synthetic voices of ``tts_voices`` instead of an FSDD speaker (0 to 1).
            Validation and test strings are always FSDD's.

    Returns:
        ``(train_json, valid_json, test_json)``. A folder that already holds a
        complete corpus made with the same arguments is kept as it is. The corpus
        is written into a temporary folder and moved into place when complete,
        under a lock, so an interrupted or concurrent build never leaves a mix.

    Raises:
        ValueError: an argument out of range, naming it.
    """
    for name, value in (("train_size", train_size), ("valid_size", valid_size),
                        ("test_size", test_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number of strings, at least 1; got {value!r}.")
    if not isinstance(max_digits, (int, np.integer)) or not 1 <= max_digits <= 20:
        raise ValueError(f"max_digits must be a whole number from 1 to 20; got {max_digits!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number, 0 or more; got {seed!r}.")
    for name, share in (("connected_share", connected_share), ("synthetic_share", synthetic_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name} must lie between 0 and 1; got {share!r}.")
    if hold_out is not None and hold_out not in FSDD_SPEAKERS:
        raise ValueError(f"hold_out must be one of FSDD's speakers {FSDD_SPEAKERS}, "
                         f"not {hold_out!r}.")
    out_dir = Path(out_dir)
    settings = {"version": CORPUS_VERSION, "train_size": int(train_size),
                "valid_size": int(valid_size), "test_size": int(test_size),
                "max_digits": int(max_digits), "seed": int(seed), "hold_out": hold_out,
                "connected_share": float(connected_share),
                "training_style": dataclasses.asdict(training_style),
                "evaluation_style": dataclasses.asdict(EVALUATION_STYLE)}
    if synthetic_share:  # (corpora without synthetic voices keep their settings)
        settings["synthetic_share"] = float(synthetic_share)
    settings = json.loads(json.dumps(settings))  # as build.json holds them: lists, not tuples
    outputs = tuple(out_dir / f"{split}_corpus.json" for split in SPLIT_TAKES)
    with exclusive_lock(out_dir.with_name(out_dir.name + ".lock")):
        if corpus_up_to_date(out_dir, settings):
            print(f"digit corpus in {project_path(out_dir)} is up to date")
            return outputs
        if out_dir.exists() and not _replaceable(out_dir):
            raise ValueError(f"{out_dir} exists and is not a digit corpus (no build.json): "
                             "choose a new or empty folder for the corpus (--out).")
        recordings = check_fsdd(fsdd_dir)
        clips = _load_clips(recordings, EVALUATION_STYLE.trim_db)
        if training_style.trim_db != EVALUATION_STYLE.trim_db:
            clips = {**clips, "train": _load_clips(recordings, training_style.trim_db)["train"]}
        partial = out_dir.with_name(out_dir.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)  # left by a build that was killed
        others = tuple(s for s in FSDD_SPEAKERS if s != hold_out)
        plan = {"train": (train_size, others, connected_share, training_style),
                "valid": (valid_size, others, None, EVALUATION_STYLE),
                "test": (test_size, (hold_out,) if hold_out else FSDD_SPEAKERS, None,
                         EVALUATION_STYLE)}
        voices = {}
        if synthetic_share:
            from tts_voices import voice_clips

            voices = voice_clips(training_style.trim_db)
        synthetic = sorted({voice for voice, _ in voices})
        for index, (split, (size, speakers, share, style)) in enumerate(plan.items()):
            source = {**clips[split], **voices} if split == "train" else clips[split]
            if hold_out and split == "test":  # the held-out voice: every take is new
                source = {(hold_out, digit): sum((clips[part].get((hold_out, digit), [])
                                                  for part in SPLIT_TAKES), [])
                          for digit in range(10)}
            rng = np.random.default_rng([seed, index])
            (partial / split).mkdir(parents=True)
            lines = []
            for number in progress(range(size), desc=f"writing {split} strings", unit="utt"):
                style_name = _style(rng, number, share)
                voiced = split == "train" and synthetic_share and rng.random() < synthetic_share
                pool = synthetic if voiced else speakers
                speaker = pool[rng.integers(len(pool))]
                digits = rng.integers(0, 10, size=rng.integers(1, max_digits + 1))
                samples, names = synthesize_string(rng, source, speaker, digits, style_name, style)
                key = f"{split}/{number:05d}.wav"
                _write_wav(partial / key, samples)
                lines.append({"key": key, "duration": round(len(samples) / RATE, 4),
                              "text": " ".join(DIGIT_WORDS[d] for d in digits),
                              "style": style_name, "speaker": speaker, "sources": names})
            write_description_file(partial / f"{split}_corpus.json", lines)
        (partial / "build.json").write_text(json.dumps(settings, indent=1) + "\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        partial.rename(out_dir)
    voices = f"; test: {hold_out} only, never heard in training" if hold_out else ""
    print(f"wrote {train_size} training, {valid_size} validation and {test_size} test strings "
          f"to {project_path(out_dir)} ({connected_share:.0%} of the training strings "
          f"connected{voices})")
    return outputs


def _replaceable(folder):
    """Whether a build may replace ``folder``: an empty folder or an earlier corpus."""
    return folder.is_dir() and ((folder / "build.json").is_file() or not any(folder.iterdir()))


def _write_wav(path, samples):
    import soundfile

    soundfile.write(path, samples, RATE, subtype="PCM_16")


def corpus_up_to_date(out_dir, settings):
    """True if ``out_dir`` holds a complete corpus built with ``settings`` (its ``build.json``)."""
    build_file = Path(out_dir) / "build.json"
    if not build_file.is_file() or json.loads(build_file.read_text()) != settings:
        return False
    for split in SPLIT_TAKES:
        description = Path(out_dir) / f"{split}_corpus.json"
        if not description.is_file():
            return False
        for line in description.read_text().splitlines():
            if not (description.parent / json.loads(line)["key"]).is_file():
                return False
    return True


def write_description_file(path, utterances):
    """Write ``utterances`` (dicts with key, duration, text...) as JSON lines, atomically."""
    with atomic_path(path) as partial, open(partial, "w") as out:
        for utterance in utterances:
            out.write(json.dumps(utterance) + "\n")


def training_share(train_json, size):
    """A description file of the first ``size`` training strings said by FSDD's speakers.

    The strings of a corpus are drawn independently, so its first ``size`` are a
    random sample of it: Models 0-6 of the notebook train on such a share of the
    recordings (the synthetic voices, if the corpus has them, are left out).

    Returns:
        The path ``<folder>/train_share_<size>.json`` (rewritten only when it changes).
    """
    train_json = Path(train_json)
    lines = [line for line in train_json.read_text().splitlines()
             if json.loads(line).get("speaker", FSDD_SPEAKERS[0]) in FSDD_SPEAKERS]
    if not 1 <= size <= len(lines):
        raise ValueError(f"a share of {size} strings: {train_json} holds {len(lines)} of FSDD's "
                         f"speakers; ask for 1 to {len(lines)}.")
    share = train_json.with_name(f"train_share_{size}.json")
    text = "\n".join(lines[:size]) + "\n"
    if not share.is_file() or share.read_text() != text:
        with atomic_path(share) as partial:
            partial.write_text(text)
    return share


def style_examples(fsdd_dir, speaker="jackson", digits=(3, 1, 4), take=2, seed=0):
    """The same recordings joined both ways: ``{style: samples}`` at 8 kHz, for a figure.

    Uses take ``take`` of each digit (a test take) and ``EVALUATION_STYLE``'s middle
    tempo and overlap, so the two strings differ only in how they are joined.
    """
    import librosa

    from utils import load_audio

    recordings = {parse_fsdd_name(path.name): path for path in check_fsdd(fsdd_dir)}
    clips = {}
    for digit in digits:
        samples, _ = load_audio(recordings[digit, speaker, take], sample_rate=RATE)
        trimmed, _ = librosa.effects.trim(samples, top_db=EVALUATION_STYLE.trim_db,
                                          frame_length=256, hop_length=64)
        clips[speaker, digit] = [(f"{digit}_{speaker}_{take}.wav", samples, trimmed)]
    middle = ConnectedStyle(tempo=(float(np.mean(EVALUATION_STYLE.tempo)),) * 2,
                            overlap_ms=(float(np.mean(EVALUATION_STYLE.overlap_ms)),) * 2)
    return {style: synthesize_string(np.random.default_rng(seed), clips, speaker, digits,
                                     style, middle)[0] for style in STYLES}
