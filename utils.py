"""Audio loading, features and text encoding: the first stage of both tracks.

Everything here works on one recording at a time and is pure NumPy, so it can
be tested and timed on its own. The VUI track's features are time-major:
``log_spectrogram`` and ``mfcc_features`` return ``(frames, features)`` with one
frame every ``step`` milliseconds. The digit track draws a recording as a square
image instead (``spectrogram_image``: frequency rows, time columns). Also here:
transcripts to and from CTC label integers, and the output length of a convolution.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("utils")

import warnings
from pathlib import Path

import librosa
import numpy as np
import soundfile
from numpy.lib.stride_tricks import sliding_window_view
from python_speech_features import mfcc

from char_map import char_map, index_map

MAX_SAMPLE = 1e3  # larger samples (in size) mark a damaged file; audio lies in [-1, 1]


def load_audio(path, sample_rate=None):
    """Read an audio file as mono float32 samples in [-1, 1].

    Args:
        path: a WAV, FLAC or any other file that libsndfile reads.
        sample_rate: the rate in Hz the caller wants; the audio is resampled
            to it when the file has another one. ``None`` keeps the file's rate.

    Returns:
        ``(samples, rate)``: samples of shape ``(num_samples,)`` and the rate
        in Hz. Multi-channel audio is mixed down by averaging the channels.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded, is truncated, holds no samples,
            or holds NaN or infinite samples or samples above ``MAX_SAMPLE`` in size.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"audio file not found: {path}. Re-create the corpus with "
            "`python prepare_data.py ...` or fix the path in the description file.")
    try:
        with soundfile.SoundFile(path) as audio_file:
            rate = audio_file.samplerate
            # libsndfile reads a cut-off WAV up to where it ends and notes in its
            # header report that a chunk size "should be" smaller.
            if "(should be" in audio_file.extra_info:
                raise ValueError("the file is shorter than its header announces (truncated)")
            samples = audio_file.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, EOFError, ValueError) as error:
        raise ValueError(f"cannot read audio file {path}: {error}. "
                         "The file is damaged, truncated or not audio; replace it.") from error
    if len(samples) == 0:
        raise ValueError(f"audio file {path} holds no samples.")
    bad = np.count_nonzero(~np.isfinite(samples))
    if bad:
        # One NaN would turn the corpus's normalisation statistics, and so every feature, to NaN.
        raise ValueError(f"audio file {path} holds {bad} samples that are NaN or infinite; "
                         "it is damaged: replace it or remove it from the corpus.")
    peak = float(np.abs(samples).max())
    if peak > MAX_SAMPLE:
        # Audio lies in [-1, 1] (a float file clipped a little above is fine); samples like
        # 1e20 overflow the spectrogram's power to infinity and every feature to NaN.
        raise ValueError(f"audio file {path} holds samples up to {peak:.3g}, far outside "
                         "[-1, 1]: it is damaged (or not audio): replace it or remove it from "
                         "the corpus.")
    samples = samples.mean(axis=1)
    if sample_rate is not None and rate != sample_rate:
        warnings.warn(f"{path}: resampled from {rate} Hz to {sample_rate} Hz.", stacklevel=2)
        samples = librosa.resample(samples, orig_sr=rate, target_sr=sample_rate)
        rate = sample_rate
    return samples.astype(np.float32), rate


def spectrogram_dim(sample_rate, window=20, max_freq=None):
    """Number of frequency bins the spectrogram keeps: 161 at 16 kHz, 81 at 8 kHz."""
    max_freq = sample_rate / 2 if max_freq is None else max_freq
    return int(0.001 * window * max_freq) + 1


def log_spectrogram(samples, sample_rate, step=10, window=20, max_freq=None, eps=1e-14):
    """Log power spectral density of Hann-windowed frames.

    Args:
        samples: mono audio, shape ``(num_samples,)``.
        sample_rate: in Hz.
        step: hop between frames in milliseconds.
        window: frame length in milliseconds.
        max_freq: highest frequency kept, in Hz; defaults to the Nyquist frequency.
        eps: added before the logarithm so silence stays finite.

    Returns:
        float32 array of shape ``(frames, spectrogram_dim(...))`` with
        ``frames = (num_samples - window_samples) // step_samples + 1``.
    """
    max_freq = sample_rate / 2 if max_freq is None else max_freq
    if step > window:
        raise ValueError(f"step ({step} ms) must not exceed window ({window} ms).")
    if max_freq > sample_rate / 2:
        raise ValueError(f"max_freq {max_freq} Hz is above the Nyquist frequency "
                         f"{sample_rate / 2} Hz of {sample_rate} Hz audio.")
    hop = int(0.001 * step * sample_rate)
    width = int(0.001 * window * sample_rate)
    if len(samples) < width:
        raise ValueError(f"{len(samples)} samples are shorter than one {window} ms window.")
    hann = np.hanning(width).astype(np.float32)
    frames = sliding_window_view(np.asarray(samples, np.float32), width)[::hop]
    spectrum = np.fft.rfft(frames * hann, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    # One-sided density: every bin but DC (and Nyquist, for an even width) carries
    # the energy of its negative-frequency twin.
    power[:, 1:(width + 1) // 2] *= 2.0
    power /= (hann ** 2).sum() * sample_rate
    bins = spectrogram_dim(sample_rate, window, max_freq)
    return np.log(power[:, :bins] + eps).astype(np.float32)


def mfcc_features(samples, sample_rate, mfcc_dim=13, step=10, window=25):
    """Mel-frequency cepstral coefficients (python_speech_features).

    Returns:
        float32 array of shape ``(frames, mfcc_dim)``, one frame every ``step`` ms
        over ``window`` ms (25 ms, the library's default).

    Raises:
        ValueError: the audio is shorter than one window (as ``spectrogram``).
    """
    width = int(0.001 * window * sample_rate)
    if len(samples) < width:  # the library would zero-pad it into one frame
        raise ValueError(f"{len(samples)} samples are shorter than one {window} ms window.")
    nfft = 1 << max(width - 1, 1).bit_length()  # next power of two >= width
    return mfcc(samples, samplerate=sample_rate, winlen=0.001 * window,
                winstep=0.001 * step, numcep=mfcc_dim, nfft=nfft).astype(np.float32)


def normalize_transcript(text, utterance="transcript"):
    """Lower-case ``text`` and collapse white space; reject characters outside the alphabet.

    Raises:
        ValueError: naming ``utterance`` and the characters that cannot be encoded.
    """
    text = " ".join(str(text).lower().split())
    unknown = sorted(set(text) - set(char_map))
    if unknown:
        raise ValueError(f"{utterance}: the transcript {text!r} contains {unknown}, which "
                         "are not in the alphabet (apostrophe, space, a-z). Spell numbers "
                         "and symbols out as words.")
    return text


def text_to_int_sequence(text):
    """Encode a normalised transcript as character indices (0-27)."""
    return [char_map[char] for char in text]


def int_sequence_to_text(sequence):
    """Decode character indices (0-27) to text; anything else (blank, padding) is dropped."""
    return "".join(index_map[int(i)] for i in sequence if int(i) in index_map)


def cnn_output_length(input_length, filter_size, border_mode, stride, dilation=1):
    """Frames out of a 1-D convolution for ``input_length`` frames in.

    Works on Python ints, NumPy arrays and backend tensors alike.

    Args:
        filter_size: kernel size in frames.
        border_mode: ``'same'`` or ``'valid'`` (``'causal'`` behaves as ``'same'``).
        stride: step of the convolution in frames.
        dilation: dilation rate of the kernel.
    """
    if input_length is None:
        return None
    if border_mode not in ("same", "valid", "causal"):
        raise ValueError(f"border_mode must be 'same', 'valid' or 'causal', not {border_mode!r}.")
    if border_mode == "valid":
        input_length = input_length - (filter_size - 1) * dilation
    return (input_length + stride - 1) // stride


def _interpolation_matrix(size, length):
    """``(size, length)`` weights that linearly resample ``length`` points to ``size`` points."""
    position = np.linspace(0, length - 1, size)
    left = np.floor(position).astype(int)
    right = np.minimum(left + 1, length - 1)
    weights = np.zeros((size, length), np.float32)
    np.add.at(weights, (np.arange(size), left), 1 - (position - left))
    np.add.at(weights, (np.arange(size), right), position - left)
    return weights


def spectrogram_image(samples, sample_rate, size=64, step=8, window=32, top_db=80.0, mel=False,
                      trim_db=None):
    """One recording as a ``size`` x ``size`` grayscale spectrogram image.

    The log power spectrogram (``log_spectrogram``) is stretched to ``size``
    columns over the whole recording and resampled to ``size`` frequency rows, as
    a plot of it would be; then the decibels are clipped to ``top_db`` below the
    image's loudest pixel and scaled to [0, 1] (a colour map's per-image scaling).

    Args:
        samples: mono audio, shape ``(num_samples,)``.
        sample_rate: in Hz.
        size: image height and width in pixels.
        step, window: spectrogram hop and frame length in milliseconds.
        top_db: dynamic range kept, in dB.
        mel: rows are ``size`` mel bands (0 Hz to the Nyquist frequency) instead
            of linearly spaced frequencies. A speaker's longer or shorter vocal
            tract moves formants by a factor, which the mel scale turns into a
            near-constant shift that convolutions and masks tolerate.
        trim_db: if set, leading and trailing audio more than ``trim_db`` below
            the recording's peak is cut first (``librosa.effects.trim``), so the
            spoken digit, not the silence around it, fills the image's width.

    Returns:
        float32 array ``(size, size)``: row 0 is the Nyquist frequency, column 0
        the start of the recording (of the trimmed recording with ``trim_db``).
    """
    if top_db <= 0:
        raise ValueError(f"top_db must be positive, got {top_db}.")
    if trim_db is not None:
        samples, _ = librosa.effects.trim(samples, top_db=trim_db,
                                          frame_length=int(0.001 * window * sample_rate),
                                          hop_length=int(0.001 * step * sample_rate))
    log_power = log_spectrogram(samples, sample_rate, step, window)  # (frames, bins), natural log
    frames, bins = log_power.shape
    if mel:
        bands = librosa.filters.mel(sr=sample_rate, n_fft=2 * (bins - 1), n_mels=size)
        log_power = np.log(np.exp(log_power) @ bands.T + 1e-14)
    decibels = log_power * (10 / np.log(10))
    rows = _interpolation_matrix(size, decibels.shape[1])
    image = rows @ decibels.T @ _interpolation_matrix(size, frames).T
    image = np.clip(image - image.max() + top_db, 0, top_db) / top_db
    return image[::-1].astype(np.float32)
