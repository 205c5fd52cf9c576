"""Fetch, check and build the project's corpora.

    python prepare_data.py fsdd [--source DIR] [--out DIR]
    python prepare_data.py digits [--fsdd DIR] [--out DIR] [--hold-out SPEAKER] ...
    python prepare_data.py librispeech [--source DIR] [--out DIR]

``fsdd`` finds the Free Spoken Digit Dataset (``--source``, else the environment
variable ``FSDD_DIR``, else a copy already downloaded under ``--out``, else a
download) and checks that its 3,000 recordings are all there and readable.
``digits`` builds the default corpus of the VUI track: utterances of one to seven
digits ("three one four") joined from FSDD recordings of one speaker.
``librispeech`` writes description files for LibriSpeech's dev-clean (training)
and test-clean (validation) subsets, reading the FLAC files where they lie.

Every corpus is described by JSON-lines description files, one object per
utterance: ``key`` (audio path, relative to the description file's folder),
``duration`` (seconds) and ``text`` (lower-case transcript).
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile

from fsdd import FSDD_SPEAKERS, check_fsdd, find_fsdd, fsdd_split, parse_fsdd_name
from plumbing import (DATA_DIR, atomic_path, download_file, extract_atomically, progress,
                      project_path)
from utils import load_audio, normalize_transcript

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

LIBRISPEECH_URL = "https://www.openslr.org/resources/12/"
LIBRISPEECH_SHA256 = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
}
LIBRISPEECH_SPLITS = {"train_corpus.json": "dev-clean", "valid_corpus.json": "test-clean"}


# ------------------------------------------------------------ digit-string corpus

def _synthesize_utterance(rng, clips, max_digits, speakers):
    """Join 1..max_digits clips of one of ``speakers`` with pauses, gain and light noise.

    Returns ``(samples, digits, source_names)``.
    """
    speaker = speakers[rng.integers(len(speakers))]
    digits = rng.integers(0, 10, size=rng.integers(1, max_digits + 1))
    rate = 8000
    pieces, names = [np.zeros(int(rate * rng.uniform(0.02, 0.1)), np.float32)], []
    for position, digit in enumerate(digits):
        name, clip = clips[speaker, digit][rng.integers(len(clips[speaker, digit]))]
        pieces.append(clip * 10 ** (rng.uniform(-2, 2) / 20))
        last = position == len(digits) - 1
        pause = rng.uniform(0.02, 0.1) if last else rng.uniform(0.04, 0.2)
        pieces.append(np.zeros(int(rate * pause), np.float32))
        names.append(name)
    samples = np.concatenate(pieces)
    peak = np.abs(samples).max()
    samples *= min(10 ** (rng.uniform(-6, 6) / 20), 0.95 / peak)
    speech_rms = np.sqrt(np.mean(samples ** 2))
    noise_rms = speech_rms * 10 ** (-rng.uniform(25, 45) / 20)
    samples += rng.normal(0, noise_rms, size=samples.shape).astype(np.float32)
    return np.clip(samples, -1, 1), digits, names


def build_digit_corpus(fsdd_dir, out_dir=DATA_DIR / "digits", train_size=1600,
                       valid_size=320, max_digits=7, seed=0, hold_out=None):
    """Build the digit-string corpus and its two description files.

    Each utterance joins 1..``max_digits`` FSDD recordings of one speaker.
    Training utterances use takes 5-49 only and validation utterances takes 0-4
    only, so no recording is shared. With ``hold_out`` (a speaker's name) the
    training utterances come from the five other speakers and the validation
    utterances from that speaker alone: a test on a voice never heard in
    training. The same arguments give the same bytes. Each line of a
    description file also lists its FSDD ``sources``.

    Returns:
        ``(train_json, valid_json)`` paths. Nothing is rebuilt when ``out_dir``
        already holds a complete corpus made with the same arguments.
    """
    if hold_out is not None and hold_out not in FSDD_SPEAKERS:
        raise ValueError(f"hold_out must be one of FSDD's speakers {FSDD_SPEAKERS}, "
                         f"not {hold_out!r}.")
    out_dir = Path(out_dir)
    recordings = check_fsdd(fsdd_dir)
    settings = {"train_size": train_size, "valid_size": valid_size,
                "max_digits": max_digits, "seed": seed, "version": 1}
    if hold_out is not None:
        settings["hold_out"] = hold_out
    speakers = {"train": tuple(s for s in FSDD_SPEAKERS if s != hold_out),
                "valid": (hold_out,) if hold_out else FSDD_SPEAKERS}
    outputs = {"train": out_dir / "train_corpus.json", "valid": out_dir / "valid_corpus.json"}
    if _corpus_up_to_date(out_dir / "build.json", settings, outputs.values()):
        print(f"digit corpus in {project_path(out_dir)} is up to date")
        return outputs["train"], outputs["valid"]

    clips = {split: {} for split in outputs}
    for path in recordings:
        digit, speaker, take = parse_fsdd_name(path.name)
        samples, _ = load_audio(path, sample_rate=8000)
        clips[fsdd_split(take)].setdefault((speaker, digit), []).append((path.name, samples))

    (out_dir / "build.json").unlink(missing_ok=True)
    for index, (split, size) in enumerate((("train", train_size), ("valid", valid_size))):
        rng = np.random.default_rng([seed, index])
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        lines = []
        for number in progress(range(size), desc=f"writing {split} utterances", unit="utt"):
            samples, digits, names = _synthesize_utterance(rng, clips[split], max_digits,
                                                           speakers[split])
            key = f"{split}/{number:05d}.wav"
            soundfile.write(out_dir / key, samples, 8000, subtype="PCM_16")
            lines.append({"key": key, "duration": round(len(samples) / 8000, 4),
                          "text": " ".join(DIGIT_WORDS[d] for d in digits), "sources": names})
        write_description_file(outputs[split], lines)
    (out_dir / "build.json").write_text(json.dumps(settings, indent=1) + "\n")
    voices = f" (validation: {hold_out} only, never heard in training)" if hold_out else ""
    print(f"wrote {train_size} training and {valid_size} validation utterances to "
          f"{project_path(out_dir)}{voices}")
    return outputs["train"], outputs["valid"]


def _corpus_up_to_date(build_file, settings, description_files):
    """True if ``build_file`` records ``settings`` and every listed audio file exists."""
    if not build_file.is_file() or json.loads(build_file.read_text()) != settings:
        return False
    for description in description_files:
        if not description.is_file():
            return False
        for line in description.read_text().splitlines():
            if not (description.parent / json.loads(line)["key"]).is_file():
                return False
    return True


def write_description_file(path, utterances):
    """Write ``utterances`` (dicts with key, duration, text) as JSON lines, atomically."""
    with atomic_path(path) as partial, open(partial, "w") as out:
        for utterance in utterances:
            out.write(json.dumps(utterance) + "\n")


# -------------------------------------------------------------------- LibriSpeech

def librispeech_utterances(subset_dir, description_dir):
    """Utterances of one extracted LibriSpeech subset (e.g. ``LibriSpeech/dev-clean``).

    Reads every ``<speaker>-<chapter>.trans.txt`` and the duration of each FLAC.
    Keys are relative to ``description_dir``.

    Raises:
        ValueError: a malformed transcript line (file and line number named).
        FileNotFoundError: a transcript line whose FLAC file is missing.
    """
    subset_dir = Path(subset_dir)
    transcripts = sorted(subset_dir.glob("*/*/*.trans.txt"))
    utterances = []
    for transcript in progress(transcripts, desc=f"reading {subset_dir.name}", unit="chapter"):
        for line_number, line in enumerate(transcript.read_text().splitlines(), 1):
            where = f"{transcript}, line {line_number}"
            parts = line.strip().split(maxsplit=1)
            if len(parts) != 2 or not parts[0].startswith(transcript.name[:-len(".trans.txt")]):
                raise ValueError(f"{where}: expected '<utterance-id> TRANSCRIPT', got {line!r}.")
            flac = transcript.parent / f"{parts[0]}.flac"
            if not flac.is_file():
                raise FileNotFoundError(f"{where}: audio file {flac} is missing.")
            try:
                duration = soundfile.info(flac).duration
            except (soundfile.LibsndfileError, RuntimeError) as error:
                raise ValueError(f"{where}: audio file {flac} cannot be read ({error}); it is "
                                 "damaged: extract it again from its archive.") from error
            utterances.append({"key": os.path.relpath(flac, description_dir),
                               "duration": round(duration, 4),
                               "text": normalize_transcript(parts[1], utterance=where)})
    return utterances


def download_librispeech(out_dir, subsets=tuple(LIBRISPEECH_SHA256), base_url=LIBRISPEECH_URL,
                         sha256=LIBRISPEECH_SHA256):
    """Download and unpack LibriSpeech subsets under ``out_dir/downloads``.

    Archives are checked against ``sha256`` and unpacked all or nothing
    (``extract_atomically``); a subset already unpacked is not fetched again.
    Returns the folder holding the ``<subset>_extracted`` folders.
    """
    root = Path(out_dir) / "downloads"
    for subset in subsets:
        extracted = root / f"{subset}_extracted"
        if not (extracted / "LibriSpeech" / subset).is_dir():
            archive = download_file(f"{subset}.tar.gz", f"{base_url}{subset}.tar.gz", out_dir,
                                sha256[subset])
            extract_atomically(archive, extracted)
    return root


def build_librispeech_corpus(source=None, out_dir=DATA_DIR / "librispeech", **download_args):
    """Write ``train_corpus.json`` (dev-clean) and ``valid_corpus.json`` (test-clean).

    ``source`` is an extracted folder holding ``dev-clean/`` and/or ``test-clean/``
    (or ``LibriSpeech/`` with them). Without it, both archives are downloaded.
    A missing subset is reported and skipped; the other is still written.

    Returns:
        The list of description files written or found up to date.
    """
    out_dir = Path(out_dir)
    if source is None:
        root = download_librispeech(out_dir, **download_args)
        subset_dirs = {s: root / f"{s}_extracted" / "LibriSpeech" / s for s in LIBRISPEECH_SHA256}
    else:
        source = Path(source)
        if (source / "LibriSpeech").is_dir():
            source = source / "LibriSpeech"
        subset_dirs = {s: source / s for s in LIBRISPEECH_SHA256}
    written, not_found = [], []
    for name, subset in LIBRISPEECH_SPLITS.items():
        subset_dir, description = subset_dirs[subset], out_dir / name
        if not subset_dir.is_dir():
            not_found.append(f"LibriSpeech {subset} not found at {subset_dir}: {name} not "
                             f"written. Extract {subset}.tar.gz there or run without --source "
                             "to download it.")
            continue
        transcripts = list(subset_dir.glob("*/*/*.trans.txt"))
        if description.is_file() and transcripts and description.stat().st_mtime >= max(
                path.stat().st_mtime for path in transcripts):
            print(f"{description} is up to date")
        else:
            utterances = librispeech_utterances(subset_dir, out_dir)
            if not utterances:
                raise ValueError(f"{subset_dir} holds no utterances (no <speaker>/<chapter>/"
                                 "*.trans.txt): the folder is incomplete. Delete it and extract "
                                 f"{subset}.tar.gz again, or run without --source to download it.")
            write_description_file(description, utterances)
            hours = sum(u["duration"] for u in utterances) / 3600
            print(f"wrote {description}: {len(utterances)} utterances, {hours:.1f} h")
        written.append(description)
    if not written:
        raise FileNotFoundError(f"neither dev-clean nor test-clean found under {source}: "
                                "extract them there, or run without --source to download them.")
    for message in not_found:
        print(message, file=sys.stderr)
    return written


# ---------------------------------------------------------------------------- CLI

def main(argv=None):
    """Command-line entry point (see the module docstring); returns the exit status.

    Bad input (a missing folder, a damaged file) prints one line naming it and
    returns 2; only unexpected errors show a traceback.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fsdd = commands.add_parser("fsdd", help="find (or download) and check FSDD")
    fsdd.add_argument("--source", help="FSDD folder (default: $FSDD_DIR, else download)")
    fsdd.add_argument("--out", default=DATA_DIR / "fsdd", type=Path, help="download folder")
    digits = commands.add_parser("digits", help="build the digit-string corpus")
    digits.add_argument("--fsdd", help="FSDD folder (default: $FSDD_DIR, else download)")
    digits.add_argument("--out", type=Path,
                        help="corpus folder (default: data/digits, or data/digits-without-"
                             "SPEAKER with --hold-out)")
    digits.add_argument("--fsdd-out", default=DATA_DIR / "fsdd", type=Path,
                        help="where FSDD is downloaded if it is not found")
    digits.add_argument("--train-size", type=int, default=1600)
    digits.add_argument("--valid-size", type=int, default=320)
    digits.add_argument("--max-digits", type=int, default=7)
    digits.add_argument("--seed", type=int, default=0)
    digits.add_argument("--hold-out", choices=FSDD_SPEAKERS, metavar="SPEAKER",
                        help="validate on this speaker only and train on the five others "
                             f"(one of {', '.join(FSDD_SPEAKERS)})")
    libri = commands.add_parser("librispeech", help="describe LibriSpeech dev-clean/test-clean")
    libri.add_argument("--source", help="extracted LibriSpeech folder (default: download)")
    libri.add_argument("--out", default=DATA_DIR / "librispeech", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "fsdd":
            print(f"FSDD: 3000 recordings checked in {find_fsdd(args.source, args.out)}")
        elif args.command == "digits":
            out = args.out or DATA_DIR / (f"digits-without-{args.hold_out}" if args.hold_out
                                          else "digits")
            build_digit_corpus(find_fsdd(args.fsdd, args.fsdd_out), out, args.train_size,
                               args.valid_size, args.max_digits, args.seed, args.hold_out)
        else:
            build_librispeech_corpus(args.source, args.out)
    except (OSError, ValueError) as error:  # bad input: the message says what to do
        print(f"prepare_data.py {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
