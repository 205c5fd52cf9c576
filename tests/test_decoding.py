"""beam_search.py, decoding.py and transcribe.py: language model, lexicon beam search, the command."""

import keras
import numpy as np
import pytest
import soundfile

import decoding
import plumbing
import sample_models
import train_utils
import trained_models
import transcribe
from beam_search import BOS, EOS, LexiconBeamSearch, NgramModel
from char_map import BLANK_INDEX, char_map

TEXTS = ["one two three", "one two", "two three three", "nine one two", "three two one"]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_ngram_probabilities_sum_to_one_in_every_context(order):
    model = NgramModel.from_transcripts(TEXTS, order=order)
    assert model.order == order and model.vocabulary == {"one", "two", "three", "nine"}
    for context in [(BOS,), (BOS, "one"), ("one", "two"), ("three",), ("two", "nine"), ("x",)]:
        total = sum(10 ** model.log10_probability(context, word)
                    for word in sorted(model.vocabulary) + [EOS])
        assert total == pytest.approx(1.0, abs=1e-9)
    seen = model.log10_probability((BOS, "one"), "two")
    assert seen > model.log10_probability((BOS, "one"), "nine")


def test_arpa_files_round_trip_and_bad_lines_are_named(tmp_path):
    model = NgramModel.from_transcripts(TEXTS, order=3)
    model.to_arpa(tmp_path / "lm.arpa")
    again = NgramModel.from_arpa(tmp_path / "lm.arpa")
    assert again.order == 3 and again.vocabulary == model.vocabulary
    for context in [(BOS,), ("one", "two"), ("nine",)]:
        for word in sorted(model.vocabulary) + [EOS, "eleven"]:
            assert again.log10_probability(context, word) == pytest.approx(
                model.log10_probability(context, word), abs=1e-5)
    lines = (tmp_path / "lm.arpa").read_text().splitlines()
    lines[8] = "-0.5 too many words here"
    (tmp_path / "bad.arpa").write_text("\n".join(lines))
    with pytest.raises(ValueError, match=r"bad.arpa, line 9: not an ARPA n-gram line"):
        NgramModel.from_arpa(tmp_path / "bad.arpa")


def frames(spec):
    """Probabilities ``(1, frames, 29)``: each frame's dict gives characters ('_': blank)."""
    probabilities = np.full((len(spec), 29), 1e-4)
    for t, chars in enumerate(spec):
        for char, p in chars.items():
            probabilities[t, BLANK_INDEX if char == "_" else char_map[char]] = p
    return (probabilities / probabilities.sum(axis=1, keepdims=True))[None]


def test_the_lexicon_and_language_model_turn_a_non_word_into_a_word():
    # "t", then "h" a little likelier than "w", then "o": greedy spells "tho".
    probabilities = frames([{"t": .9}, {"_": .9}, {"h": .5, "w": .45}, {"_": .9}, {"o": .9},
                            {" ": .9}, {"t": .9}, {"h": .9}, {"r": .9}, {"e": .9}, {"_": .9},
                            {"e": .9}])
    lengths = [probabilities.shape[1]]
    assert decoding.greedy_decode(probabilities, lengths) == ["tho three"]
    language_model = NgramModel.from_transcripts(TEXTS, order=2)
    lexicon = LexiconBeamSearch(language_model.vocabulary)
    assert decoding.beam_decode(probabilities, lengths, lexicon) == ["two three"]
    with_lm = LexiconBeamSearch(language_model.vocabulary, language_model)
    assert decoding.beam_decode(probabilities, lengths, with_lm) == ["two three"]
    assert decoding.beam_decode(probabilities, [6], with_lm) == ["two"]


def test_the_language_model_picks_the_likelier_of_two_words():
    """Frames as likely to read "one" as "nine" after "two": the bigram of the transcripts decides."""
    language_model = NgramModel.from_transcripts(["two one"] * 5 + ["nine"], order=2)
    probabilities = frames([{"t": .9}, {"w": .9}, {"o": .9}, {" ": .9}, {"n": .45, "o": .45},
                            {"_": .9}, {"n": .9}, {"e": .9}])
    plain = LexiconBeamSearch({"one", "two", "nine", "ne"}, beam_width=8)
    scored = LexiconBeamSearch({"one", "two", "nine", "ne"}, language_model, beam_width=8)
    assert decoding.beam_decode(probabilities, [8], scored) == ["two one"]
    assert decoding.beam_decode(probabilities, [8], plain)[0] in ("two one", "two nine")


@pytest.mark.parametrize("seed", range(4))
def test_the_lexicon_decoder_writes_only_words_of_its_lexicon(seed):
    """Over random probability matrices, of any length and any confidence, every word
    written is a lexicon word: a partial word at the end never wins."""
    rng = np.random.default_rng(seed)
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    language_model = NgramModel.from_transcripts(" ".join(rng.choice(words, 4))
                                                 for _ in range(50))
    for decoder in (LexiconBeamSearch(words), LexiconBeamSearch(words, language_model),
                    LexiconBeamSearch(words, language_model, beam_width=2)):
        for _ in range(60):
            logits = rng.normal(size=(int(rng.integers(1, 90)), 29)) * rng.uniform(0.5, 8)
            probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
            text = decoding.beam_decode(probabilities[None], [len(logits)], decoder)[0]
            assert set(text.split()) <= set(words), text
            assert text == " ".join(text.split())  # single spaces, none at the ends


def test_a_lexicon_of_impossible_words_is_refused():
    with pytest.raises(ValueError, match="a lexicon needs words of the characters a-z"):
        LexiconBeamSearch({"two words"})
    with pytest.raises(ValueError, match="no words"):
        LexiconBeamSearch(set())


@pytest.fixture
def trained_model(digit_corpus):
    keras.utils.set_random_seed(2)
    model = sample_models.final_model(81, filters=32, units=32)
    train_utils.train_model(model, "small.pickle", "small.weights.h5", *digit_corpus[:2], epochs=1,
                            verbose=0, optimizer=keras.optimizers.Adam(3e-3),
                            jit_compile=False)  # as the notebook trains the final model
    return plumbing.RESULTS_DIR / "small.weights.h5"


def test_transcribe_command_reads_any_format_and_reports_bad_files(trained_model, digit_corpus,
                                                                   tmp_path, capsys):
    """A WAV, a stereo 44.1 kHz FLAC and an OGG in a sub-folder; a broken file is skipped."""
    wav = digit_corpus[2].parent / "test" / "00003.wav"
    samples, rate = soundfile.read(wav)
    stereo = np.stack([samples, samples], axis=1)
    folder = tmp_path / "audio"
    (folder / "deeper").mkdir(parents=True)
    soundfile.write(folder / "b_stereo_44k.flac", np.repeat(stereo, 2, axis=0), 2 * rate)
    soundfile.write(folder / "deeper" / "c.ogg", samples, rate, format="OGG", subtype="VORBIS")
    (folder / "a_broken.wav").write_bytes(b"RIFF\x00\x00 not a wave file at all")
    (folder / "notes.txt").write_text("not audio, not listed")

    status = transcribe.main(["--model", str(trained_model), "--greedy", str(wav), str(folder)])
    out, err = capsys.readouterr()
    lines = [line.split("\t") for line in out.splitlines()]
    assert status == 1
    assert [path for path, _ in lines] == [str(wav), str(folder / "b_stereo_44k.flac"),
                                           str(folder / "deeper" / "c.ogg")]
    model = trained_models.load_trained_model(trained_model)
    assert lines[0][1] == decoding.transcribe(wav, model)
    assert "transcribe.py: error: cannot read audio file" in err and "a_broken.wav" in err
    assert "1 of 4 files could not be transcribed" in err and "Traceback" not in err

    assert transcribe.main(["--model", str(trained_model), str(wav)]) == 0  # beam search + LM
    assert capsys.readouterr().out.startswith(f"{wav}\t")


def test_transcribe_command_argument_errors_exit_2(trained_model, digit_corpus, tmp_path,
                                                  capsys):
    wav = digit_corpus[2].parent / "test" / "00003.wav"
    assert transcribe.main(["--model", str(tmp_path / "none.weights.h5"), str(wav)]) == 2
    assert transcribe.main(["--model", str(trained_model), str(tmp_path / "missing.wav")]) == 2
    (tmp_path / "empty").mkdir()
    assert transcribe.main(["--model", str(trained_model), str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("transcribe.py: error: ") for line in err)
    assert "none.weights.h5: no such file" in err[0]
    assert "no such file or folder" in err[1] and "missing.wav" in err[1]
    assert "no audio files" in err[2]
