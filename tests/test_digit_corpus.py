"""digit_corpus.py: digit strings from FSDD, paused and connected, in three sets."""

import json

import numpy as np
import pytest
import soundfile

import digit_corpus as corpus
import fsdd
from digit_corpus import DIGIT_WORDS, ConnectedStyle, build_digit_corpus, training_share
from fsdd import parse_fsdd_name


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_three_sets_share_no_recording_and_each_line_matches_its_audio(digit_corpus):
    takes = {"train": set(range(10, 50)), "valid": set(range(5, 10)), "test": set(range(5))}
    sources = {}
    for split, path in zip(takes, digit_corpus):
        lines = read_lines(path)
        sources[split] = {source for line in lines for source in line["sources"]}
        for line in lines:
            parsed = [parse_fsdd_name(source) for source in line["sources"]]
            assert line["text"] == " ".join(DIGIT_WORDS[digit] for digit, _, _ in parsed)
            assert 1 <= len(parsed) <= 7
            assert {speaker for _, speaker, _ in parsed} == {line["speaker"]}
            assert {take for _, _, take in parsed} <= takes[split]
            assert line["style"] in ("paused", "connected")
            samples, rate = soundfile.read(path.parent / line["key"])
            assert rate == 8000 and abs(len(samples) / rate - line["duration"]) < 1e-3
            assert np.abs(samples).max() <= 1.0
    assert not sources["train"] & sources["valid"] and not sources["train"] & sources["test"]
    assert not sources["valid"] & sources["test"]
    for split in ("valid", "test"):  # evaluation sets alternate the styles
        styles = [line["style"] for line in read_lines(digit_corpus[list(takes).index(split)])]
        assert styles == ["paused", "connected"] * (len(styles) // 2)


def test_same_arguments_same_bytes_and_a_smaller_corpus_is_the_start_of_a_larger(
        fsdd_dir, digit_corpus, tmp_path):
    again = build_digit_corpus(fsdd_dir, tmp_path / "again", 60, 16, 16, seed=3)
    for mine, theirs in zip(digit_corpus, again):
        assert mine.read_text() == theirs.read_text()
    for line in read_lines(digit_corpus[0])[:5]:
        assert (digit_corpus[0].parent / line["key"]).read_bytes() == \
            (again[0].parent / line["key"]).read_bytes()
    small = build_digit_corpus(fsdd_dir, tmp_path / "small", 20, 4, 6, seed=3)
    for big, part in zip(digit_corpus, small):
        assert read_lines(big)[:len(read_lines(part))] == read_lines(part)
    other = build_digit_corpus(fsdd_dir, tmp_path / "seed4", 60, 16, 16, seed=4)
    assert other[0].read_text() != digit_corpus[0].read_text()


def test_connected_strings_are_shorter_than_the_same_digits_paused(fsdd_dir):
    examples = corpus.style_examples(fsdd_dir)
    assert set(examples) == {"paused", "connected"}
    assert len(examples["connected"]) < 0.8 * len(examples["paused"])
    for samples in examples.values():
        assert samples.dtype == np.float32 and np.abs(samples).max() <= 1.0


def test_the_share_of_connected_training_strings(fsdd_dir, tmp_path):
    for share, expected in ((0.0, 0), (1.0, 30)):
        train, _, _ = build_digit_corpus(fsdd_dir, tmp_path / f"s{share}", 30, 2, 2,
                                         connected_share=share)
        assert sum(line["style"] == "connected" for line in read_lines(train)) == expected


def test_training_style_changes_only_the_training_strings(fsdd_dir, tmp_path):
    plain = build_digit_corpus(fsdd_dir, tmp_path / "plain", 12, 4, 4, connected_share=1.0)
    steady = build_digit_corpus(fsdd_dir, tmp_path / "steady", 12, 4, 4, connected_share=1.0,
                                training_style=ConnectedStyle(tempo=(1.0, 1.0)))
    assert plain[0].read_text() != steady[0].read_text()
    for mine, theirs in zip(plain[1:], steady[1:]):
        assert [(x["key"], x["text"], x["duration"]) for x in read_lines(mine)] == \
            [(x["key"], x["text"], x["duration"]) for x in read_lines(theirs)]


def test_held_out_speaker_is_tested_on_every_take_and_never_trained_on(fsdd_dir, tmp_path):
    train, valid, test = build_digit_corpus(fsdd_dir, tmp_path, 40, 12, 60, seed=3,
                                            hold_out="lucas")
    speakers = {name: {line["speaker"] for line in read_lines(path)}
                for name, path in (("train", train), ("valid", valid), ("test", test))}
    assert speakers["test"] == {"lucas"}
    assert speakers["train"] == speakers["valid"] == set(fsdd.FSDD_SPEAKERS) - {"lucas"}
    takes = {parse_fsdd_name(source)[2] for line in read_lines(test) for source in line["sources"]}
    assert min(takes) < 5 and max(takes) >= 10  # test, validation and training takes alike
    assert json.loads((tmp_path / "build.json").read_text())["hold_out"] == "lucas"
    with pytest.raises(ValueError, match="hold_out must be one of FSDD's speakers"):
        build_digit_corpus(fsdd_dir, tmp_path, 4, 4, 4, hold_out="bob")


def test_an_up_to_date_corpus_is_kept_and_a_damaged_one_rebuilt(fsdd_dir, tmp_path, capsys):
    out = tmp_path / "corpus"
    train_json, _, _ = build_digit_corpus(fsdd_dir, out, 8, 4, 4)
    stamp = train_json.stat().st_mtime_ns
    build_digit_corpus(fsdd_dir, out, 8, 4, 4)
    assert train_json.stat().st_mtime_ns == stamp and "up to date" in capsys.readouterr().out
    (out / "train" / "00003.wav").unlink()
    build_digit_corpus(fsdd_dir, out, 8, 4, 4)
    assert (out / "train" / "00003.wav").is_file()
    assert not out.with_name("corpus.partial").exists()


@pytest.mark.parametrize("arguments, message", [
    ({"train_size": 0}, "train_size must be a whole number of strings, at least 1; got 0"),
    ({"valid_size": -5}, "valid_size must be a whole number of strings, at least 1; got -5"),
    ({"test_size": 2.5}, "test_size must be a whole number of strings"),
    ({"max_digits": 0}, "max_digits must be a whole number from 1 to 20; got 0"),
    ({"seed": -1}, "seed must be a whole number, 0 or more; got -1"),
    ({"connected_share": 1.5}, "connected_share must lie between 0 and 1; got 1.5")])
def test_arguments_out_of_range_are_named(fsdd_dir, tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        build_digit_corpus(fsdd_dir, tmp_path / "c", **{"train_size": 4, "valid_size": 2,
                                                        "test_size": 2, **arguments})
    assert not (tmp_path / "c").exists()


def test_a_folder_that_is_not_a_corpus_is_never_replaced(fsdd_dir, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not a digit corpus"):
        build_digit_corpus(fsdd_dir, tmp_path / "mine", 4, 2, 2)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_training_share_is_the_start_of_the_training_strings(digit_corpus):
    share = training_share(digit_corpus[0], 10)
    assert share.name == "train_share_10.json" and share.parent == digit_corpus[0].parent
    assert read_lines(share) == read_lines(digit_corpus[0])[:10]
    with pytest.raises(ValueError, match="a share of 61 strings: .* holds 60 of FSDD.s speakers"):
        training_share(digit_corpus[0], 61)


def test_synthetic_voices_say_only_training_strings_and_stay_out_of_the_share(fsdd_dir, tmp_path):
    """Half the training strings by flite's and festival's voices (Debian packages that
    .ci/install_system_packages.sh installs); validation and test strings stay FSDD's."""
    import tts_voices

    clips = tts_voices.voice_clips(trim_db=30.0)
    voices = {voice for voice, _ in clips}
    assert len(voices) == len(tts_voices.VOICES) * len(tts_voices.STRETCHES) * \
        len(tts_voices.TRACTS) == 72
    assert not any(voice.startswith("espeak") for voice in voices)  # reserved for checking
    for (voice, digit), [(name, samples, trimmed)] in list(clips.items())[:20]:
        assert name == f"{voice}/{DIGIT_WORDS[digit]}" and samples.dtype == np.float32
        assert 0.05 < len(samples) / 8000 < 1.5 and len(trimmed) <= len(samples)
    train, valid, test = build_digit_corpus(fsdd_dir, tmp_path / "c", 40, 6, 6,
                                            synthetic_share=0.5)
    speakers = [line["speaker"] for line in read_lines(train)]
    synthetic = [speaker for speaker in speakers if speaker in voices]
    assert 10 <= len(synthetic) <= 30 and set(speakers) - set(synthetic) <= set(fsdd.FSDD_SPEAKERS)
    for path in (valid, test):
        assert {line["speaker"] for line in read_lines(path)} <= set(fsdd.FSDD_SPEAKERS)
    share = training_share(train, 10)
    assert all(line["speaker"] in fsdd.FSDD_SPEAKERS for line in read_lines(share))
