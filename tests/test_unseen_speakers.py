"""unseen_speakers.py: leave one speaker out for the VUI track, folds trained in workers."""

import json

import plumbing
import unseen_speakers
from trained_models import read_history

SMALL = {"train_size": 24, "valid_size": 8, "test_size": 8}


def test_a_fold_trains_on_five_speakers_and_is_scored_on_the_sixth(tmp_path, monkeypatch):
    monkeypatch.setattr(plumbing, "DATA_DIR", tmp_path / "data")
    train_json, valid_json, test_json = unseen_speakers.fold_corpus("theo", **SMALL)
    assert train_json.parent.name.startswith("digits-without-theo-")
    assert unseen_speakers.fold_corpus("theo", **SMALL)[0] == train_json  # the same folder again
    speakers = {path.name: {json.loads(line)["speaker"] for line in path.read_text().splitlines()}
                for path in (train_json, valid_json, test_json)}
    assert "theo" not in speakers["train_corpus.json"] | speakers["valid_corpus.json"]
    assert speakers["test_corpus.json"] == {"theo"}

    table = unseen_speakers.leave_one_speaker_out(["theo"], epochs=1, results="folds/",
                                                  corpus=SMALL)
    assert list(table.index) == ["theo", "mean, untouched folds"]
    for decoder in ("greedy", "lexicon", "lexicon + LM"):
        for style in ("paused", "connected"):
            assert 0 <= table.loc["theo", f"WER % {style} ({decoder})"] <= 100 * 7
    assert table.loc["theo", "non-words (lexicon + LM)"] == 0
    # The worker wrote to this test's results folder, with the recipe's validation strings.
    pickle_file = plumbing.RESULTS_DIR / "folds" / "loso_theo.pickle"
    history = read_history(pickle_file)
    assert len(history["loss"]) == 1 and history["record"]["valid_json"].endswith("valid_corpus.json")
    assert history["record"]["minibatch_size"] == unseen_speakers.recipe.TRAINING["minibatch_size"]
    written = pickle_file.stat().st_mtime_ns
    again = unseen_speakers.leave_one_speaker_out(["theo"], epochs=1, results="folds/",
                                                  corpus=SMALL)
    assert pickle_file.stat().st_mtime_ns == written  # a finished fold is reused, not retrained
    assert again.drop(columns="train s").equals(table.drop(columns="train s"))
