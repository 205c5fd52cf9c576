"""Transcribe audio files with a trained acoustic model.

    python transcribe.py [--model results/model_end.weights.h5] [--greedy | --lm FILE.arpa]
                         FILE_OR_DIR...

Prints one line per file, ``path<TAB>text``, in the order given (the files of a
folder, and of its sub-folders, sorted by name). Any format and rate that
libsndfile reads works (WAV, FLAC, MP3, OGG, ...; stereo is mixed down): the
audio is resampled to the model's corpus rate and featurised as its training
data was. Decoding is beam search with a lexicon and a word trigram model
estimated from the model's training transcripts (``--lm`` reads an ARPA file
instead); ``--greedy`` takes the likeliest character of each frame.

A file that cannot be transcribed (unreadable or damaged, too short for the
model, or failing to decode) is reported on stderr and the others are still
transcribed; the exit status is then 1. A file longer than the model's training
utterances is transcribed with a warning. Bad arguments (no such model, no audio
found, ``--greedy`` with ``--lm``) exit with status 2, Ctrl-C with status 130.
"""

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import soundfile
from tqdm.auto import tqdm

from plumbing import CommandParser, stderr_to_devnull

PROG = "transcribe.py"
AUDIO_SUFFIXES = {f".{name.lower()}" for name in soundfile.available_formats()} | {".aif"}
BATCH_FILES = 32


def audio_files(paths):
    """The audio files named by ``paths``: files as given, folders searched recursively.

    Raises:
        FileNotFoundError: a path that does not exist.
    """
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*")
                            if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def check_model_path(path):
    """Refuse a ``--model`` that is not a weights file of training with its record beside it.

    Checked before TensorFlow starts, so that a wrong path costs no wait and gets
    a message about the path rather than about a record file derived from it.

    Raises:
        FileNotFoundError: naming the path and what to pass instead.
    """
    path = Path(path)
    wanted = ("pass the .weights.h5 file that training wrote (e.g. results/model_end.weights.h5, "
              "written by train.py), with its .json record beside it")
    if not path.name.endswith(".weights.h5"):
        raise FileNotFoundError(f"--model {path} is not a weights file (*.weights.h5): {wanted}.")
    if not path.is_file():
        raise FileNotFoundError(f"--model {path}: no such file: {wanted}.")
    record = path.with_name(path.name[:-len(".weights.h5")] + ".json")
    if not record.is_file():
        raise FileNotFoundError(f"--model {path} has no record {record.name} beside it: put the "
                                ".json file written with these weights next to them.")


def load_decoder(record, greedy=False, arpa=None):
    """The ``decode`` function for ``ctc.predict_texts``.

    Args:
        record: the trained model's record (its training corpus gives the language model).
        greedy: best-path decoding instead of beam search.
        arpa: an ARPA language model file to use instead of the training transcripts.
    """
    import decoding

    if greedy:
        return decoding.greedy_decode
    return decoding.decoders(record, arpa)["lexicon + LM"]


def _warn(path, message):
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def transcribe_files(model, files, decode, report_error, report_warning=_warn):
    """Yield ``(path, text)`` for every file that can be transcribed, in order, in batches.

    A file that fails is reported instead, and the other files of its batch go
    on: ``report_error(path, message)`` is called for a file that cannot be read
    or is damaged (its features are not finite), is too short to give the model
    one output frame (it would print an empty transcript), or whose decoding
    raises. ``report_warning(path, message)`` is called for a file longer than
    the model's training utterances (``max_duration`` of its record; default: a
    line on stderr); it is still transcribed, but the model never heard such lengths.
    """
    from ctc import output_frames
    from data_generator import Featurizer, normalize

    record = model.record
    featurizer = Featurizer(**record["features"])
    longest = record.get("max_duration")
    for start in range(0, len(files), BATCH_FILES):
        ready, features = [], []
        for path in files[start:start + BATCH_FILES]:
            try:
                with warnings.catch_warnings():  # resampling any rate is expected here
                    warnings.filterwarnings("ignore", message=".*resampled from")
                    frames = featurizer(path)
                seconds = soundfile.info(path).duration
            except (OSError, ValueError, RuntimeError) as error:
                report_error(path, str(error))
                continue
            if not np.isfinite(frames).all():
                report_error(path, f"{path}: its features are NaN or infinite: the audio is "
                                   "damaged; replace it.")
            elif output_frames(model, len(frames)) == 0:
                report_error(path, f"{path}: too short for this model ({seconds:.3f} s give "
                                   f"{model.name} no output frame); record a longer clip.")
            else:
                if longest and seconds > longest:
                    report_warning(path, f"{path} lasts {seconds:.1f} s, longer than the "
                                         f"{longest:g} s of the model's longest training "
                                         "utterances: its transcript may be poor (cut the audio "
                                         "into shorter files).")
                ready.append(path)
                features.append(normalize(frames))
        yield from _decoded(model, ready, features, decode, report_error)


def _decoded(model, paths, features, decode, report_error):
    """``(path, text)`` of a batch; if decoding the batch fails, each file is decoded alone.

    One file's probabilities (e.g. a decoder's corner case) must not cost the
    other files of its batch their transcripts.
    """
    from ctc import predict_texts

    if not paths:
        return []
    try:
        return list(zip(paths, predict_texts(model, features, decode=decode)))
    except Exception:  # one file breaks the decoder: find which, below
        pass
    done = []
    for path, feature in zip(paths, features):
        try:
            done.append((path, predict_texts(model, [feature], decode=decode)[0]))
        except Exception as error:  # a decoder may raise anything
            report_error(path, f"{path}: decoding failed ({type(error).__name__}: {error}).")
    return done


def main(argv=None):
    """Command-line entry point (see the module docstring); returns the exit status."""
    parser = CommandParser(prog=PROG, description=__doc__.split("\n\n")[1],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--model", default="results/model_end.weights.h5", type=Path,
                        help="weights written by training, with its .json record beside them")
    decoder = parser.add_mutually_exclusive_group()
    decoder.add_argument("--greedy", action="store_true",
                         help="greedy decoding: no beam search, no language model")
    decoder.add_argument("--lm", metavar="FILE.arpa", help="word language model (ARPA format)")
    args = parser.parse_args(argv)
    try:
        return _transcribe(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the files printed above are done.", file=sys.stderr)
        return 130


def _transcribe(args):
    """Load the model and print every file's transcript; returns the exit status."""
    try:
        check_model_path(args.model)
        files = audio_files(args.paths)
        if not files:
            raise FileNotFoundError(f"no audio files (WAV, FLAC, MP3, OGG or another format "
                                    f"libsndfile reads) in {', '.join(args.paths)}")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with stderr_to_devnull():  # TensorFlow's C++ start-up log
            import trained_models

            model = trained_models.load_trained_model(args.model.resolve())
        decode = load_decoder(model.record, args.greedy, args.lm)
    except (OSError, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    failed = []
    progress = tqdm(total=len(files), unit="file", disable=len(files) < 2 * BATCH_FILES,
                    file=sys.stderr)

    def report_error(path, message):
        failed.append(path)
        progress.update()
        tqdm.write(f"{PROG}: error: {message}", file=sys.stderr)

    def report_warning(path, message):
        tqdm.write(f"{PROG}: warning: {message}", file=sys.stderr)

    with progress:
        for path, text in transcribe_files(model, files, decode, report_error, report_warning):
            print(f"{path}\t{text}", flush=True)
            progress.update()
    if failed:
        print(f"{PROG}: {len(failed)} of {len(files)} files could not be transcribed",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
