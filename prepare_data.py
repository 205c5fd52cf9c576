"""Fetch, check and build the project's corpora (a command).

    python prepare_data.py fsdd [--source DIR] [--out DIR]
    python prepare_data.py digits [--source DIR] [--out DIR] [--hold-out SPEAKER] ...
    python prepare_data.py librispeech [--source DIR] [--out DIR] [--train SUBSET ...]

``fsdd`` finds the Free Spoken Digit Dataset (``--source``, else the environment
variable ``FSDD_DIR``, else a copy already downloaded under ``--out``, else a
download) and checks that its 3,000 recordings are all there and intact.
``digits`` builds the default corpus of the VUI track (``digit_corpus``): strings
of one to seven digits ("three one four") joined from FSDD recordings of one
speaker, paused or connected, in training, validation and test sets.
``librispeech`` writes description files for LibriSpeech, reading the FLAC files
where they lie: training on ``--train`` (default dev-clean, as in the original
course; train-clean-100 for more), validation and test on test-clean's speakers
split in two halves.

Every corpus is described by JSON-lines description files, one object per
utterance: ``key`` (audio path, relative to the description file's folder),
``duration`` (seconds) and ``text`` (lower-case transcript).
"""

import argparse
import os
import sys
from pathlib import Path

import soundfile

import recipe
from digit_corpus import build_digit_corpus, write_description_file
from fsdd import FSDD_SPEAKERS, find_fsdd
from plumbing import (DATA_DIR, CommandParser, download_file, extract_atomically,
                      non_negative_int, positive_int, progress)
from utils import normalize_transcript

LIBRISPEECH_URL = "https://www.openslr.org/resources/12/"
LIBRISPEECH_SHA256 = {  # of the archives <subset>.tar.gz at LIBRISPEECH_URL
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}
EVALUATION_SUBSET = "test-clean"  # its speakers split in two: validation and test


# -------------------------------------------------------------------- LibriSpeech

def librispeech_utterances(subset_dir, description_dir):
    """Utterances of an extracted LibriSpeech subset (``LibriSpeech/dev-clean``) or speaker.

    Reads every ``<speaker>-<chapter>.trans.txt`` and the duration of each FLAC.
    Keys are relative to ``description_dir``.

    Raises:
        ValueError: a malformed transcript line (file and line number named).
        FileNotFoundError: a transcript line whose FLAC file is missing.
    """
    subset_dir = Path(subset_dir)
    transcripts = sorted(subset_dir.glob("**/*.trans.txt"))
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


def download_librispeech(out_dir, subsets, base_url=LIBRISPEECH_URL, sha256=LIBRISPEECH_SHA256):
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


def build_librispeech_corpus(source=None, out_dir=DATA_DIR / "librispeech", train=("dev-clean",),
                            **download_args):
    """Write LibriSpeech's description files: training, validation and test.

    ``train_corpus.json`` lists the ``train`` subsets (default dev-clean, the
    original course's training set; ``train-clean-100`` holds 100 hours).
    test-clean's speakers are split in two halves, alternately in order of their
    number: the first half is ``valid_corpus.json`` (it picks the epoch kept),
    the second ``test_corpus.json`` (it scores), so no speaker is in both.

    Args:
        source: an extracted folder holding the subsets (or ``LibriSpeech/`` with
            them); ``None`` downloads the archives into ``out_dir/downloads``.
        out_dir: where the description files go (keys are relative to it).
        train: the training subsets, names of ``LIBRISPEECH_SHA256``.

    Returns:
        The list of description files written or found up to date. A missing
        subset is reported and skipped; the others are still written.

    Raises:
        ValueError: an unknown subset name, or an extracted subset without utterances.
        FileNotFoundError: none of the subsets was found.
    """
    unknown = sorted(set(train) - set(LIBRISPEECH_SHA256))
    if unknown:
        raise ValueError(f"unknown LibriSpeech subset {unknown[0]!r}: choose from "
                         f"{', '.join(LIBRISPEECH_SHA256)}.")
    subsets = tuple(dict.fromkeys((*train, EVALUATION_SUBSET)))
    out_dir = Path(out_dir)
    if source is None:
        root = download_librispeech(out_dir, subsets, **download_args)
        subset_dirs = {s: root / f"{s}_extracted" / "LibriSpeech" / s for s in subsets}
    else:
        source = Path(source)
        if (source / "LibriSpeech").is_dir():
            source = source / "LibriSpeech"
        subset_dirs = {s: source / s for s in subsets}
    found, not_found = {}, []
    for subset in subsets:
        if subset_dirs[subset].is_dir():
            found[subset] = subset_dirs[subset]
        else:
            not_found.append(f"LibriSpeech {subset} not found at {subset_dirs[subset]}: "
                             f"extract {subset}.tar.gz there or run without --source to "
                             "download it.")
    if not found:
        raise FileNotFoundError(f"none of {', '.join(subsets)} found under {source}: extract "
                                "them there, or run without --source to download them.")
    outputs = {"train_corpus.json": [found[s] for s in train if s in found]}
    if EVALUATION_SUBSET in found:
        speakers = sorted((p.name for p in found[EVALUATION_SUBSET].iterdir() if p.is_dir()),
                          key=lambda name: (len(name), name))
        outputs["valid_corpus.json"] = [found[EVALUATION_SUBSET] / s for s in speakers[0::2]]
        outputs["test_corpus.json"] = [found[EVALUATION_SUBSET] / s for s in speakers[1::2]]
    written = []
    for name, folders in outputs.items():
        if not folders:
            continue
        description = out_dir / name
        transcripts = [path for folder in folders for path in folder.glob("**/*.trans.txt")]
        if description.is_file() and transcripts and description.stat().st_mtime >= max(
                path.stat().st_mtime for path in transcripts):
            print(f"{description} is up to date")
        else:
            utterances = [u for folder in folders for u in librispeech_utterances(folder, out_dir)]
            if not utterances:
                raise ValueError(f"{', '.join(map(str, folders))} holds no utterances (no "
                                 "<speaker>/<chapter>/*.trans.txt): the folder is incomplete. "
                                 "Delete it and extract the archive again, or run without "
                                 "--source to download it.")
            write_description_file(description, utterances)
            hours = sum(u["duration"] for u in utterances) / 3600
            print(f"wrote {description}: {len(utterances)} utterances, {hours:.1f} h")
        written.append(description)
    for message in not_found:
        print(message, file=sys.stderr)
    return written


# ---------------------------------------------------------------------------- CLI

def main(argv=None):
    """Command-line entry point (see the module docstring); returns the exit status.

    Bad input (a missing folder, a damaged file, a size out of range) prints one
    line naming it and returns 2.
    """
    parser = CommandParser(prog="prepare_data.py", description=__doc__.split("\n\n")[1],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    fsdd = commands.add_parser("fsdd", help="find (or download) and check FSDD")
    fsdd.add_argument("--source", help="FSDD folder (default: $FSDD_DIR, else download)")
    fsdd.add_argument("--out", default=DATA_DIR / "fsdd", type=Path, help="download folder")
    digits = commands.add_parser("digits", help="build the digit-string corpus")
    digits.add_argument("--source", help="FSDD folder (default: $FSDD_DIR, else download)")
    digits.add_argument("--out", type=Path,
                        help="corpus folder (default: data/digits, or data/digits-without-"
                             "SPEAKER with --hold-out)")
    digits.add_argument("--fsdd-out", default=DATA_DIR / "fsdd", type=Path,
                        help="where FSDD is downloaded if it is not found")
    corpus = recipe.CORPUS  # the defaults: the shipped recipe's corpus
    for size in ("train", "valid", "test"):
        digits.add_argument(f"--{size}-size", type=positive_int, default=corpus[f"{size}_size"],
                            metavar="N", help=f"{size} strings (default {corpus[f'{size}_size']})")
    digits.add_argument("--max-digits", type=positive_int, default=corpus["max_digits"],
                        metavar="N", help="longest string, in digits (1 to 20)")
    digits.add_argument("--seed", type=non_negative_int, default=corpus["seed"], help="0 or more")
    digits.add_argument("--connected-share", type=float, default=corpus["connected_share"],
                        metavar="FRACTION", help="probability that a training string is "
                        f"connected (default {corpus['connected_share']})")
    digits.add_argument("--synthetic-share", type=float,
                        default=corpus["synthetic_share"], metavar="FRACTION",
                        help="probability that a training string is said by a synthetic voice "
                             f"(default {corpus['synthetic_share']})")
    digits.add_argument("--hold-out", choices=FSDD_SPEAKERS, metavar="SPEAKER",
                        help="test on this speaker only and train on the five others "
                             f"(one of {', '.join(FSDD_SPEAKERS)})")
    libri = commands.add_parser("librispeech", help="describe LibriSpeech subsets")
    libri.add_argument("--source", help="extracted LibriSpeech folder (default: download)")
    libri.add_argument("--out", default=DATA_DIR / "librispeech", type=Path)
    libri.add_argument("--train", nargs="+", default=["dev-clean"], choices=LIBRISPEECH_SHA256,
                       metavar="SUBSET", help="training subsets (default dev-clean; e.g. "
                                              "train-clean-100)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fsdd":
            print(f"FSDD: 3000 recordings checked in {find_fsdd(args.source, args.out)}")
        elif args.command == "digits":
            out = args.out or DATA_DIR / (f"digits-without-{args.hold_out}" if args.hold_out
                                          else "digits")
            build_digit_corpus(find_fsdd(args.source, args.fsdd_out), out, args.train_size,
                               args.valid_size, args.test_size, args.max_digits, args.seed,
                               args.hold_out, args.connected_share,
                               synthetic_share=args.synthetic_share)
        else:
            build_librispeech_corpus(args.source, args.out, tuple(args.train))
    except (OSError, ValueError) as error:  # bad input: the message says what to do
        print(f"prepare_data.py {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prepare_data.py {args.command}: interrupted; nothing half-written was kept.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
