"""The data stage of the digit track: FSDD recordings as spectrogram images.

``load_digit_images`` draws the 3,000 FSDD recordings as cached spectrogram
images (``DigitImages``), which are split officially or by speaker, optionally
normalised per speaker, and served to ``Model.fit`` as ``ImageBatches``.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("digit_images")

import dataclasses

import keras
import numpy as np

from data_generator import KERAS_WORKERS
from fsdd import check_fsdd, find_fsdd, fsdd_split, parse_fsdd_name
from plumbing import atomic_path, cache_file, ensure_writable, progress
from utils import load_audio, spectrogram_image

@dataclasses.dataclass(frozen=True)
class DigitImages:
    """FSDD recordings as spectrogram images, with their labels and origins.

    Attributes:
        images: float32 ``(n, size, size)`` in [0, 1] (``normalize_speakers``
            turns them into z-scores); row 0 is the highest frequency, columns
            run forward in time over the whole recording.
        labels: int64 ``(n,)`` spoken digit, 0-9.
        speakers: str ``(n,)`` speaker name, one of ``fsdd.FSDD_SPEAKERS``.
        takes: int64 ``(n,)`` take number, 0-49.
        paths: str ``(n,)`` WAV file of each image.
    """

    images: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray
    takes: np.ndarray
    paths: np.ndarray

    def __len__(self):
        return len(self.labels)

    def subset(self, mask):
        """The recordings selected by a boolean mask or index array, as a new ``DigitImages``."""
        return DigitImages(*(getattr(self, f.name)[mask] for f in dataclasses.fields(self)))


class ImageBatches(keras.utils.PyDataset):
    """``(images, labels)`` batches of a ``DigitImages`` for ``Model.fit``.

    Each item is ``(images, labels)``: float32 ``(batch, size, size)`` and int64
    ``(batch,)``. With ``shuffle``, the images are drawn in a new random order
    every epoch (seeded); without it, in their stored order.
    """

    def __init__(self, data, batch_size, shuffle, seed=0):
        super().__init__(workers=KERAS_WORKERS)
        self.images, self.labels = data.images, data.labels
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(self.labels))
        self.on_epoch_end()

    def __len__(self):
        return -(-len(self.labels) // self.batch_size)

    def __getitem__(self, index):
        members = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.images[members], self.labels[members]

    def on_epoch_end(self):
        """Draw the next epoch's order (shuffled batches only)."""
        if self.shuffle:
            self.order = self.rng.permutation(len(self.labels))


def load_digit_images(fsdd_dir=None, size=64, step=8, window=32, top_db=80.0, mel=False,
                      trim_db=None):
    """All 3,000 FSDD recordings as spectrogram images (see ``spectrogram_image``).

    The defaults make the essay's images (linear frequency, whole recording); the
    digit notebook's runs on unseen speakers also use ``mel=True, trim_db=30``.

    Computed once and cached in ``plumbing.CACHE_DIR`` under a name made from the settings
    and the recordings' paths, sizes and times, so later calls only read a file.

    Args:
        fsdd_dir: FSDD's recordings folder; default ``fsdd.find_fsdd()``.
        size, step, window, top_db, mel, trim_db: image settings (pixels, ms, ms,
            dB, bool, dB); see ``spectrogram_image``.

    Returns:
        A ``DigitImages`` of 3,000 recordings in file-name order.
    """
    paths = check_fsdd(find_fsdd() if fsdd_dir is None else fsdd_dir)
    settings = {"size": size, "step": step, "window": window, "top_db": float(top_db)}
    if mel or trim_db is not None:  # the essay images keep their cache name
        settings.update(mel=bool(mel), trim_db=None if trim_db is None else float(trim_db))
    stored_at = cache_file("fsdd-images", settings, paths)
    names = [parse_fsdd_name(path.name) for path in paths]
    if stored_at.is_file():
        with np.load(stored_at) as stored:
            images = stored["images"]
    else:
        ensure_writable(stored_at.parent)
        images = np.stack([spectrogram_image(*load_audio(path), **settings)
                           for path in progress(paths, desc="FSDD images", unit="file")])
        with atomic_path(stored_at) as partial:
            np.savez(partial, images=images)
    return DigitImages(images=images,
                       labels=np.array([digit for digit, _, _ in names]),
                       speakers=np.array([speaker for _, speaker, _ in names]),
                       takes=np.array([take for _, _, take in names]),
                       paths=np.array([str(path) for path in paths]))


def official_split(data):
    """FSDD's official split: ``(train, test)``, takes 5-49 (2,700) and takes 0-4 (300)."""
    is_test = np.array([fsdd_split(int(take)) == "valid" for take in data.takes])
    return data.subset(~is_test), data.subset(is_test)


VALIDATION_TAKES = range(5, 10)  # of FSDD's training takes: where our models' settings are chosen


def validation_split(train):
    """The official training set split again: ``(train, validation)``, takes 10-49 and 5-9.

    Our models' learning rate and epochs are chosen on it (``benchmarks/digit_study.py``),
    so that the official test takes are only ever used to report.
    """
    is_validation = np.isin(train.takes, VALIDATION_TAKES)
    if not is_validation.any() or is_validation.all():
        raise ValueError("validation_split wants the official training set (takes 5-49).")
    return train.subset(~is_validation), train.subset(is_validation)


def speaker_split(data, speaker):
    """Leave one speaker out: ``(train, test)``, every other speaker's recordings and ``speaker``'s."""
    if speaker not in set(data.speakers):
        raise ValueError(f"unknown speaker {speaker!r}; the speakers are {sorted(set(data.speakers))}.")
    held_out = data.speakers == speaker
    return data.subset(~held_out), data.subset(held_out)


def normalize_speakers(data, eps=1e-6):
    """Per-speaker mean and variance normalisation of spectrogram images (speaker CMVN).

    A voice and a microphone colour every recording of one speaker alike: some
    frequency rows louder, some quieter, some more variable. For each speaker,
    each frequency row is shifted and scaled to mean 0 and standard deviation 1
    over all of that speaker's recordings and columns (time), as speech
    recognisers normalise a new speaker's features with statistics of their own
    speech. It uses each speaker's recordings, never their labels, so a speaker
    held out of training is normalised from their own unlabelled audio alone.
    Unlike subtracting each recording's own row means, it keeps what sets one
    word apart from the speaker's other words.

    Args:
        data: ``DigitImages`` with images ``(n, rows, columns)``.
        eps: added to each standard deviation (rows that never vary stay 0).

    Returns:
        A ``DigitImages`` with the same recordings; images float32
        ``(n, rows, columns)`` of z-scores (no longer in [0, 1]).
    """
    images = np.empty_like(data.images)
    for speaker in np.unique(data.speakers):
        own = data.speakers == speaker
        rows = data.images[own]
        mean = rows.mean(axis=(0, 2), keepdims=True)
        std = rows.std(axis=(0, 2), keepdims=True)
        images[own] = (rows - mean) / (std + eps)
    return dataclasses.replace(data, images=images)
