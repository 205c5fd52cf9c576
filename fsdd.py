"""The Free Spoken Digit Dataset (FSDD): its file names, its split, checking and finding it.

FSDD holds 3,000 recordings of single spoken digits, ``<digit>_<speaker>_<take>.wav``
(6 speakers, 50 takes of each digit, 8 kHz mono). Both tracks read it: the digit
track as images (``digit_images.load_digit_images``), the VUI track as the
material of its digit-string corpus (``prepare_data.build_digit_corpus``).
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("fsdd")

import hashlib
import os
import re
import shutil
import zipfile
from pathlib import Path

from plumbing import DATA_DIR, PROJECT_DIR, download_file, extract_atomically

FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
FSDD_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{FSDD_COMMIT}.zip"
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FSDD_TAKES = 50
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FSDD_TEST_TAKES = range(0, 5)  # the dataset's official test split; takes 5-49 train
# SHA-256 of every recording at FSDD_COMMIT (the dataset's own checksum list). GitHub builds
# its archives on the fly, so the recordings are checked rather than the archive's bytes.
FSDD_CHECKSUMS = PROJECT_DIR / "checksums" / "fsdd-recordings.sha256"
FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def parse_fsdd_name(name):
    """``'7_jackson_32.wav'`` -> ``(7, 'jackson', 32)``; ``None`` if not an FSDD name."""
    match = FSDD_NAME.match(name)
    if match is None or match[2] not in FSDD_SPEAKERS or int(match[3]) >= FSDD_TAKES:
        return None
    return int(match[1]), match[2], int(match[3])


def check_fsdd(recordings):
    """Check an FSDD ``recordings`` folder: exactly the 3,000 expected files, all intact.

    Every recording must have the SHA-256 listed in ``FSDD_CHECKSUMS`` (the
    dataset at ``FSDD_COMMIT``), so a damaged, truncated or altered file is found.

    Returns:
        The sorted list of the 3,000 WAV paths.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: files are missing, unexpected WAV files are present, or a
            recording differs from the dataset's; the message names them.
    """
    recordings = Path(recordings)
    if not recordings.is_dir():
        raise FileNotFoundError(f"FSDD folder not found: {recordings}.")
    expected = {f"{digit}_{speaker}_{take}.wav" for digit in range(10)
                for speaker in FSDD_SPEAKERS for take in range(FSDD_TAKES)}
    present = {path.name for path in recordings.glob("*.wav")}
    missing, extra = sorted(expected - present), sorted(present - expected)
    if missing or extra:
        raise ValueError(
            f"{recordings} is not a complete FSDD recordings folder: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected "
            f"(e.g. {extra[:3]}). Point --source / FSDD_DIR at the dataset's "
            "'recordings' folder, or delete it and download it again.")
    checksums = dict(line.split()[::-1] for line in FSDD_CHECKSUMS.read_text().splitlines())
    paths = sorted(recordings / name for name in expected)
    damaged = [path.name for path in paths
               if hashlib.sha256(path.read_bytes()).hexdigest() != checksums[path.name]]
    if damaged:
        raise ValueError(
            f"{len(damaged)} FSDD recordings in {recordings} differ from the dataset's "
            f"(SHA-256 mismatch), e.g. {damaged[:3]}: they are damaged, truncated or from "
            "another version of FSDD. Replace them with fresh copies, or delete the folder "
            "and download FSDD again.")
    return paths


def download_fsdd(out_dir):
    """Download, unpack and check the FSDD archive (``FSDD_URL``) under ``out_dir/downloads``.

    A damaged download is deleted, so that the next run fetches it afresh.

    Returns:
        The checked ``recordings`` folder.
    """
    archive = download_file("fsdd.zip", FSDD_URL, out_dir)
    extracted = archive.parent / "fsdd_extracted"
    try:
        extract_atomically(archive, extracted)
        found = sorted(extracted.glob("*/recordings")) + sorted(extracted.glob("recordings"))
        if not found:
            raise ValueError("it has no 'recordings' folder")
        check_fsdd(found[0])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        archive.unlink(missing_ok=True)
        shutil.rmtree(extracted, ignore_errors=True)
        raise ValueError(f"the FSDD archive downloaded from {FSDD_URL} is damaged ({error}). "
                         "It was deleted: run the command again to download it afresh.") from error
    return found[0]


def find_fsdd(source=None, out_dir=DATA_DIR / "fsdd", download=True):
    """Locate FSDD's recordings folder, check it and return its path.

    Looks at ``source``, then ``$FSDD_DIR``, then a previous download under
    ``out_dir``; downloads the archive there as a last resort (``download=True``).
    ``source`` may name the ``recordings`` folder or the dataset folder holding it.
    """
    from_environment = not source and bool(os.environ.get("FSDD_DIR"))
    source = source or os.environ.get("FSDD_DIR")
    if source:
        recordings = Path(source)
        if (recordings / "recordings").is_dir():
            recordings = recordings / "recordings"
    else:
        previous = sorted(Path(out_dir).glob("downloads/fsdd_extracted/*/recordings"))
        if previous:
            recordings = previous[0]
        elif download:
            return download_fsdd(out_dir)
        else:
            raise FileNotFoundError(
                "FSDD not found: pass --source DIR, set FSDD_DIR, or run "
                "`python prepare_data.py fsdd` with network access to download it.")
    try:
        check_fsdd(recordings)
    except (FileNotFoundError, ValueError) as error:
        if not from_environment:
            raise
        raise type(error)(f"{error} This path came from the environment variable FSDD_DIR: "
                          "point FSDD_DIR at FSDD's recordings folder, or unset it to "
                          "download FSDD.") from error
    return recordings


def fsdd_split(take):
    """``'valid'`` for FSDD's official test takes (0-4), ``'train'`` for takes 5-49."""
    return "valid" if take in FSDD_TEST_TAKES else "train"
