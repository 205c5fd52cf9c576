"""utils.py: audio loading, spectrogram, MFCC, alphabet, convolution lengths."""

import numpy as np
import pytest
import scipy.signal
import soundfile

import utils
from char_map import BLANK_INDEX, NUM_CLASSES, char_map, index_map
from conftest import write_tone


def test_spectrogram_matches_scipy_power_spectral_density():
    rng = np.random.default_rng(0)
    samples = rng.standard_normal(16000).astype(np.float32) * 0.1
    ours = utils.log_spectrogram(samples, 16000, step=10, window=20, max_freq=8000)
    _, _, reference = scipy.signal.spectrogram(
        samples.astype(np.float64), fs=16000, window=np.hanning(320), nperseg=320,
        noverlap=160, detrend=False, scaling="density", mode="psd")
    np.testing.assert_allclose(ours, np.log(reference.T + 1e-14), atol=1e-3)


def test_spectrogram_peak_sits_at_the_tone_frequency():
    t = np.arange(16000) / 16000
    features = utils.log_spectrogram(np.sin(2 * np.pi * 1000 * t), 16000)
    assert np.all(features.argmax(axis=1) == 1000 // 50)  # 50 Hz per bin with 20 ms windows


def test_spectrogram_shapes_of_the_spec():
    assert utils.log_spectrogram(np.zeros(61120), 16000).shape == (381, 161)
    assert utils.log_spectrogram(np.zeros(8000), 8000).shape == (99, 81)
    assert utils.log_spectrogram(np.zeros(16000), 16000, max_freq=4000).shape == (99, 81)
    assert utils.spectrogram_dim(16000) == 161 and utils.spectrogram_dim(8000) == 81


def test_spectrogram_rejects_bad_settings():
    with pytest.raises(ValueError, match="Nyquist"):
        utils.log_spectrogram(np.zeros(8000), 8000, max_freq=8000)
    with pytest.raises(ValueError, match="shorter than one 20 ms window"):
        utils.log_spectrogram(np.zeros(100), 16000)


def test_mfcc_shape_matches_spectrogram_frames():
    samples = np.random.default_rng(1).standard_normal(61120)
    assert utils.mfcc_features(samples, 16000).shape == (381, 13)
    assert utils.mfcc_features(samples, 16000, mfcc_dim=20).shape == (381, 20)


def test_mfcc_refuses_audio_shorter_than_one_window_like_the_spectrogram():
    short = np.zeros(180, np.float32)  # 22.5 ms at 8 kHz: longer than 20 ms, shorter than 25
    assert utils.log_spectrogram(short, 8000).shape == (1, 81)
    with pytest.raises(ValueError, match="shorter than one 25 ms window"):
        utils.mfcc_features(short, 8000)
    with pytest.raises(ValueError, match="shorter than one 20 ms window"):
        utils.log_spectrogram(short[:100], 8000)


def test_load_audio_refuses_nan_and_infinite_samples(tmp_path):
    tone = 0.5 * np.sin(np.linspace(0, 100, 8000))
    tone[[10, 20]] = np.nan
    tone[30] = np.inf
    soundfile.write(tmp_path / "poisoned.wav", tone, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"poisoned.wav holds 3 samples that are NaN or infinite"):
        utils.load_audio(tmp_path / "poisoned.wav")


def test_load_audio_mixes_stereo_down(tmp_path):
    tone = write_tone(tmp_path / "stereo.wav", channels=2, subtype="FLOAT")
    samples, rate = utils.load_audio(tmp_path / "stereo.wav")
    assert rate == 16000 and samples.shape == tone.shape and samples.dtype == np.float32
    np.testing.assert_allclose(samples, tone, atol=1e-6)


def test_load_audio_resamples_on_request_and_says_so(tmp_path):
    write_tone(tmp_path / "tone.wav", seconds=1.0, rate=16000)
    with pytest.warns(UserWarning, match="resampled from 16000 Hz to 8000 Hz"):
        samples, rate = utils.load_audio(tmp_path / "tone.wav", sample_rate=8000)
    assert rate == 8000 and len(samples) == 8000
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(spectrum.argmax() - 440) <= 1  # 1 Hz per bin over one second


def test_load_audio_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        utils.load_audio(tmp_path / "missing.wav")
    (tmp_path / "noise.wav").write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(ValueError, match="noise.wav"):
        utils.load_audio(tmp_path / "noise.wav")
    write_tone(tmp_path / "empty.wav", seconds=0)
    with pytest.raises(ValueError, match="empty.wav holds no samples"):
        utils.load_audio(tmp_path / "empty.wav")


def test_load_audio_detects_truncation(tmp_path):
    write_tone(tmp_path / "cut.wav", seconds=1.0)
    data = (tmp_path / "cut.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.wav"):
        utils.load_audio(tmp_path / "cut.wav")


def test_alphabet_round_trip():
    assert len(char_map) == 28 and BLANK_INDEX == 28 and NUM_CLASSES == 29
    assert char_map["'"] == 0 and char_map[" "] == 1 and char_map["a"] == 2 and char_map["z"] == 27
    text = "it's twenty two o'clock"
    sequence = utils.text_to_int_sequence(text)
    assert max(sequence) <= 27 and utils.int_sequence_to_text(sequence) == text
    assert utils.int_sequence_to_text([9, BLANK_INDEX, 10, -1]) == "hi"
    assert all(index_map[char_map[c]] == c for c in char_map)


def test_transcripts_are_normalised_or_refused():
    assert utils.normalize_transcript("  HELLO\tWorld ") == "hello world"
    with pytest.raises(ValueError, match=r"utt-7.*\['3'\]"):
        utils.normalize_transcript("route 3", utterance="utt-7")


@pytest.mark.parametrize("length,size,mode,stride,dilation,expected", [
    (100, 11, "valid", 2, 1, 45), (100, 11, "same", 2, 1, 50), (101, 11, "same", 2, 1, 51),
    (100, 3, "valid", 1, 2, 96), (100, 5, "same", 3, 1, 34), (10, 11, "valid", 1, 1, 0)])
def test_cnn_output_length(length, size, mode, stride, dilation, expected):
    assert utils.cnn_output_length(length, size, mode, stride, dilation) == expected
    assert utils.cnn_output_length(None, size, mode, stride) is None
