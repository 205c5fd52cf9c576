"""Transcribe audio files with a trained acoustic model.

    python transcribe.py [--model results/model_end.weights.h5] [--greedy] [--lm FILE.arpa]
                         FILE_OR_DIR...

Prints one line per file, ``path<TAB>text``, in the order given (the files of a
folder, and of its sub-folders, sorted by name). Any format and rate that
libsndfile reads works (WAV, FLAC, MP3, OGG, ...; stereo is mixed down): the
audio is resampled to the model's corpus rate and featurised as its training
data was. Decoding is beam search with a lexicon and a word trigram model
estimated from the model's training transcripts (``--lm`` reads an ARPA file
instead); ``--greedy`` takes the likeliest character of each frame.

A file that cannot be read is reported on stderr and the others are still
transcribed; the exit status is then 1. Bad arguments (no such model, no audio
found) exit with status 2.
"""

import argparse
import os
import sys
import warnings
from pathlib import Path

import soundfile
from tqdm.auto import tqdm

from plumbing import stderr_to_devnull

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
with stderr_to_devnull():  # TensorFlow's C++ start-up log
    import decoding
    import train_utils
    from data_generator import Featurizer, normalize

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


def load_decoder(record, greedy=False, arpa=None):
    """The ``decode`` function for ``decoding.predict_texts``.

    Args:
        record: the trained model's record (its training corpus gives the language model).
        greedy: best-path decoding instead of beam search.
        arpa: an ARPA language model file to use instead of the training transcripts.
    """
    if greedy:
        return decoding.greedy_decode
    return decoding.decoders(record, arpa)["lexicon + LM"]


def transcribe_files(model, files, decode, report_error):
    """Yield ``(path, text)`` for every readable file, in order, in batches of ``BATCH_FILES``.

    ``report_error(path, error)`` is called for a file that cannot be read or is
    too short to featurise; the others go on.
    """
    record = model.record
    featurizer = Featurizer(**record["features"])
    for start in range(0, len(files), BATCH_FILES):
        readable, features = [], []
        for path in files[start:start + BATCH_FILES]:
            try:
                with warnings.catch_warnings():  # resampling any rate is expected here
                    warnings.filterwarnings("ignore", message=".*resampled from")
                    features.append(normalize(featurizer(path)))
                readable.append(path)
            except (OSError, ValueError) as error:
                report_error(path, error)
        if readable:
            yield from zip(readable, decoding.predict_texts(model, features, decode=decode))


def main(argv=None):
    """Command-line entry point (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--model", default="results/model_end.weights.h5",
                        help="weights written by train_model, with its .json record beside them")
    parser.add_argument("--greedy", action="store_true", help="greedy decoding, no beam search")
    parser.add_argument("--lm", metavar="FILE.arpa", help="word language model (ARPA format)")
    args = parser.parse_args(argv)
    try:
        files = audio_files(args.paths)
        if not files:
            raise FileNotFoundError(f"no audio files (WAV, FLAC, MP3, OGG or another format "
                                    f"libsndfile reads) in {', '.join(args.paths)}")
        with stderr_to_devnull():
            model = train_utils.load_trained_model(Path(args.model).resolve())
        decode = load_decoder(model.record, args.greedy, args.lm)
    except (OSError, ValueError) as error:
        print(f"transcribe.py: error: {error}", file=sys.stderr)
        return 2
    failed = []
    progress = tqdm(total=len(files), unit="file", disable=len(files) < 2 * BATCH_FILES,
                    file=sys.stderr)

    def report_error(path, error):
        failed.append(path)
        progress.update()
        tqdm.write(f"transcribe.py: error: {error}", file=sys.stderr)

    with progress:
        for path, text in transcribe_files(model, files, decode, report_error):
            print(f"{path}\t{text}", flush=True)
            progress.update()
    if failed:
        print(f"transcribe.py: {len(failed)} of {len(files)} files could not be transcribed",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
