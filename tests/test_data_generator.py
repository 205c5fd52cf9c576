"""data_generator.py: description files, feature caches, CTC batches, plots."""

import json
import sys

import matplotlib
import numpy as np
import pytest

import data_generator
import plumbing
from conftest import write_tone
from data_generator import AudioGenerator, load_description_file, pad_batch
from fsdd import DIGIT_WORDS
from utils import int_sequence_to_text


def write_description(path, lines):
    path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n"
                            for line in lines))
    return path


def test_description_file_resolves_keys_skips_long_clips_and_normalises(tmp_path):
    write_tone(tmp_path / "a.wav", 1.0)
    write_tone(tmp_path / "b.wav", 2.0)
    corpus = write_description(tmp_path / "c.json", [
        {"key": "a.wav", "duration": 1.0, "text": "Hello  World"},
        {"key": "b.wav", "duration": 12.0, "text": "too long"}])
    utterances = load_description_file(corpus, max_duration=10.0)
    assert utterances == [{"key": str(tmp_path / "a.wav"), "duration": 1.0, "text": "hello world",
                           "style": ""}]


def test_skipped_long_utterances_are_counted_in_one_line(tmp_path, capsys):
    write_tone(tmp_path / "a.wav", 1.0)
    corpus = write_description(tmp_path / "c.json", [
        {"key": "a.wav", "duration": 1.0, "text": "kept"},
        {"key": "a.wav", "duration": 12.0, "text": "too long"},
        {"key": "a.wav", "duration": 10.5, "text": "too long too"}])
    assert len(load_description_file(corpus, max_duration=10.0)) == 1
    assert capsys.readouterr().out == ("c.json: skipped 2 of 3 utterances longer than "
                                       "max_duration=10.0 s\n")
    load_description_file(corpus, max_duration=20.0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("text, message", [
    (None, "'text' must be the transcript as a string, got None"),
    (7, "'text' must be the transcript as a string, got 7"),
    ("", "the transcript is empty"), ("   ", "the transcript is empty")])
def test_missing_or_empty_transcripts_are_refused(tmp_path, text, message):
    write_tone(tmp_path / "a.wav")
    corpus = write_description(tmp_path / "c.json", [
        {"key": "a.wav", "duration": 1.0, "text": "fine"},
        {"key": "a.wav", "duration": 1.0, "text": text}])
    with pytest.raises(ValueError, match=rf"c.json, line 2: {message}"):
        load_description_file(corpus)


@pytest.mark.parametrize("bad_line", [
    "{not json}\n", json.dumps({"key": "a.wav", "text": "x"}) + "\n",
    json.dumps({"key": "a.wav", "duration": "long", "text": "x"}) + "\n"])
def test_malformed_description_line_is_named_by_number(tmp_path, bad_line):
    write_tone(tmp_path / "a.wav")
    good = {"key": "a.wav", "duration": 1.0, "text": "fine"}
    corpus = write_description(tmp_path / "c.json", [good, good, bad_line])
    with pytest.raises(ValueError, match=r"c.json, line 3: expected a JSON object"):
        load_description_file(corpus)


def test_missing_audio_and_bad_characters_are_named(tmp_path):
    corpus = write_description(tmp_path / "c.json", [{"key": "gone.wav", "duration": 1, "text": "x"}])
    with pytest.raises(FileNotFoundError, match=r"gone.wav \(.*c.json, line 1\)"):
        load_description_file(corpus)
    write_tone(tmp_path / "a.wav")
    corpus = write_description(tmp_path / "c.json", [{"key": "a.wav", "duration": 1, "text": "4 you"}])
    with pytest.raises(ValueError, match=r"c.json, line 1: the transcript '4 you' contains \['4'\]"):
        load_description_file(corpus)
    with pytest.raises(FileNotFoundError, match="prepare_data.py digits"):
        load_description_file(tmp_path / "none.json")


def test_generator_features_normalisation_and_input_dim(digit_corpus):
    data = AudioGenerator(*digit_corpus[:2])
    assert data.input_dim == 81 and len(data.train) == 60 and len(data.valid) == 16
    for features in data.train_features + data.valid_features:  # each utterance on its own
        np.testing.assert_allclose(features.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(features.std(axis=0), 1, atol=2e-3)
    first = data.train[0]
    assert len(data.train_features[0]) == (round(first["duration"] * 8000) - 160) // 80 + 1
    assert AudioGenerator(*digit_corpus[:2], spectrogram=False).input_dim == 13
    assert AudioGenerator(*digit_corpus[:2], spectrogram=False, mfcc_dim=20).input_dim == 20


def test_normalisation_removes_what_colours_a_whole_utterance(digit_corpus):
    """A louder recording or another microphone's tilt shifts each log-spectrum row by a
    constant over the utterance: its per-utterance normalised features do not change."""
    features = AudioGenerator(*digit_corpus[:2]).featurizer(load_description_file(digit_corpus[0])[0]["key"])
    tilt = np.linspace(-3.0, 2.0, features.shape[1])  # natural-log power per frequency bin
    np.testing.assert_allclose(data_generator.normalize(features + np.log(4.0) + tilt),
                               data_generator.normalize(features), atol=1e-4)
    flat = np.ones((50, 3), np.float32)  # a dimension that never varies stays 0
    assert not data_generator.normalize(flat).any()


def test_features_are_cached_on_disk_and_reused(digit_corpus, monkeypatch):
    AudioGenerator(*digit_corpus[:2])
    assert len(list(plumbing.CACHE_DIR.glob("features-*.npz"))) == 2
    data_generator._memory_cache.clear()

    def no_recomputation(self, path):
        raise AssertionError(f"features of {path} recomputed")
    monkeypatch.setattr(data_generator.Featurizer, "__call__", no_recomputation)
    reloaded = AudioGenerator(*digit_corpus[:2])
    assert len(reloaded.train_features) == 60


def test_other_sample_rate_is_resampled_with_a_warning(digit_corpus, tmp_path):
    lines = [json.loads(line) for line in digit_corpus[1].read_text().splitlines()][:3]
    for line in lines:
        line["key"] = str(digit_corpus[1].parent / line["key"])
    write_tone(tmp_path / "fast.wav", 1.0, rate=16000)
    lines.append({"key": str(tmp_path / "fast.wav"), "duration": 1.0, "text": "one"})
    corpus = write_description(tmp_path / "valid.json", lines)
    with pytest.warns(UserWarning, match="fast.wav: resampled from 16000 Hz to 8000 Hz"):
        data = AudioGenerator(digit_corpus[0], corpus)
    assert data.valid_features[-1].shape == (99, 81)


def corpus_lines(description, count):
    lines = [json.loads(line) for line in description.read_text().splitlines()][:count]
    for line in lines:
        line["key"] = str(description.parent / line["key"])
    return lines


def test_corpus_rate_is_the_rate_of_most_files_not_of_the_first(digit_corpus, tmp_path):
    write_tone(tmp_path / "cd.wav", 1.0, rate=44100)
    lines = [{"key": str(tmp_path / "cd.wav"), "duration": 1.0, "text": "one"}]
    corpus = write_description(tmp_path / "train.json", lines + corpus_lines(digit_corpus[0], 5))
    with pytest.warns(UserWarning, match=r"1 of 6 audio files are not at the corpus's rate of "
                                         r"8000 Hz \(e.g. .*cd.wav at 44100 Hz\)"):
        data = AudioGenerator(corpus, None)
    assert data.input_dim == 81 and data.featurizer.settings["sample_rate"] == 8000
    assert data.train_features[0].shape == (99, 81)


def test_an_unreadable_first_file_is_named_with_advice(digit_corpus, tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00 not a wave file")
    lines = [{"key": str(tmp_path / "broken.wav"), "duration": 1.0, "text": "one"}]
    corpus = write_description(tmp_path / "train.json", lines + corpus_lines(digit_corpus[0], 3))
    with pytest.raises(ValueError, match=r"cannot read audio file .*broken.wav .*replace it, or "
                                         "remove its line"):
        AudioGenerator(corpus, None)


def test_an_unwritable_cache_is_reported_before_any_feature_is_computed(digit_corpus,
                                                                        tmp_path, monkeypatch):
    (tmp_path / "blocker").write_text("a file where the cache folder should go")
    monkeypatch.setattr(plumbing, "CACHE_DIR", tmp_path / "blocker" / "cache")
    computed = []
    monkeypatch.setattr(data_generator.Featurizer, "__call__",
                        lambda self, path: computed.append(path))
    with pytest.raises(PermissionError, match=r"cannot write to the folder .*blocker/cache"):
        AudioGenerator(*digit_corpus[:2])
    assert computed == []


def test_batches_are_padded_bucketed_and_complete(digit_corpus):
    data = AudioGenerator(*digit_corpus[:2], minibatch_size=8)
    batches = data.train_batches()
    assert len(batches) == 8
    seen, max_label = [], max(len(u["text"]) for u in data.train)
    for index in range(len(batches)):
        inputs, targets = batches[index]
        members = batches.batches[index]
        seen += list(members)
        x, lengths = inputs["the_input"], inputs["input_length"][:, 0]
        assert x.dtype == np.float32 and x.shape[1] % 64 == 0 and x.shape[1] - lengths.max() < 64
        assert inputs["the_labels"].shape == (len(members), -(-max_label // 16) * 16)
        assert targets.shape == (len(members),)
        for row, i in enumerate(members):
            assert np.array_equal(x[row, :lengths[row]], data.train_features[i])
            assert not x[row, lengths[row]:].any()
            text = data.train[i]["text"]
            assert inputs["label_length"][row, 0] == len(text)
            assert int_sequence_to_text(inputs["the_labels"][row, :len(text)]) == text
    assert sorted(seen) == list(range(60))
    longest = [batches.lengths[b].max() for b in batches.batches]
    assert longest[0] == min(longest) and longest[1] == max(longest)
    order_before = [list(b) for b in batches.batches]
    batches.on_epoch_end()
    assert [list(b) for b in batches.batches] != order_before
    assert sorted(i for b in batches.batches for i in b) == list(range(60))


def test_validation_batches_are_deterministic(digit_corpus):
    data = AudioGenerator(*digit_corpus[:2], minibatch_size=4)
    first, second = data.valid_batches(), data.valid_batches()
    assert [list(b) for b in first.batches] == [list(b) for b in second.batches]
    first.on_epoch_end()
    assert [list(b) for b in first.batches] == [list(b) for b in second.batches]


def test_sort_by_duration_serves_the_first_epoch_by_length(digit_corpus):
    batches = AudioGenerator(*digit_corpus[:2], minibatch_size=8, sort_by_duration=True).train_batches()
    longest = [batches.lengths[b].max() for b in batches.batches]
    assert longest[0] == min(longest) and longest[2:] == sorted(longest[2:])


def test_pad_batch():
    batch = pad_batch([np.ones((3, 2)), np.ones((17, 2))], pad_to=16)
    assert batch.shape == (2, 32, 2) and batch[0].sum() == 6 and batch[1].sum() == 34


def test_visualisation_helpers(digit_corpus):
    text, audio, mfcc, spectrogram, path = data_generator.vis_train_features(0, digit_corpus[0])
    assert path.endswith("00000.wav") and text.split()[0] in DIGIT_WORDS
    assert mfcc.shape[1] == 13 and spectrogram.shape[1] == 81 and len(audio) > 8000 * 0.2
    matplotlib.use("Agg")
    figures = [data_generator.plot_raw_audio(audio, 8000),
               data_generator.plot_spectrogram_feature(spectrogram, max_freq=4000),
               data_generator.plot_mfcc_feature(mfcc)]
    for figure in figures:
        ax = figure.axes[0]
        assert ax.get_title() and ax.get_xlabel() == "time (s)" and ax.get_ylabel()
    assert figures[1].axes[0].get_ylabel() == "frequency (Hz)" and len(figures[1].axes) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux only")
def test_large_allocations_stay_in_the_heap():
    # mallopt returns 0 for a parameter glibc refuses; the README's Speed section
    # depends on this setting for fit to run at the speed of the train step.
    assert data_generator.keep_large_allocations_in_heap()


def test_corpus_summary_counts_sets_styles_and_voices(tmp_path):
    for name in ("a", "b", "c"):
        write_tone(tmp_path / f"{name}.wav", 1.0)
    train = write_description(tmp_path / "train.json", [  # rows come in the tables' order
        {"key": "c.wav", "duration": 3.0, "text": "four", "style": "connected",
         "speaker": "festival-ked-s0.85-t0.9"},
        {"key": "b.wav", "duration": 2.0, "text": "three", "style": "paused",
         "speaker": "flite-kal-s1-t1"},
        {"key": "a.wav", "duration": 1.0, "text": "one two", "style": "paused", "speaker": "theo"}])
    test = write_description(tmp_path / "test.json", [
        {"key": "a.wav", "duration": 1.5, "text": "five six seven", "style": "connected",
         "speaker": "lucas"}])
    table = data_generator.corpus_summary({"training": train, "test": test})
    assert table.index.tolist() == [("training", "paused", "recorded"),
                                    ("training", "paused", "synthetic"),
                                    ("training", "connected", "synthetic"),
                                    ("test", "connected", "recorded")]
    assert table["strings"].tolist() == [1, 1, 1, 1]
    assert table["words per string"].tolist() == [2, 1, 1, 3]
    assert table.loc[("training", "connected", "synthetic"), "minutes"] == 3.0 / 60
