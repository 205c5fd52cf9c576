"""unseen_speakers.py: leave one speaker out for the VUI track, folds trained in workers."""

import pickle

import plumbing
import unseen_speakers


def test_a_fold_trains_on_five_speakers_and_is_scored_on_the_sixth(tmp_path, monkeypatch):
    monkeypatch.setattr(plumbing, "DATA_DIR", tmp_path / "data")
    train_json, valid_json = unseen_speakers.fold_corpus("theo", 24, 8)
    assert train_json.parent == tmp_path / "data" / "digits-without-theo-24-8"
    heard = [line for line in train_json.read_text().splitlines() if "_theo_" in line]
    assert not heard and valid_json.read_text().count("_theo_") >= 8

    small = {"input_dim": 81, "filters": 16, "units": 8}
    table = unseen_speakers.leave_one_speaker_out("final_model", small, ["theo"], epochs=1,
                                                  learning_rate=1e-3, minibatch_size=8,
                                                  train_size=24, valid_size=8, results="folds/")
    assert list(table.index) == ["theo", "mean"]
    assert table.loc["theo", "utterances"] == 8
    for decoder in ("greedy", "beam", "beam + LM"):
        assert 0 <= table.loc["theo", f"WER % {decoder}"] <= 100 * 7  # 7 digits at most
        assert table.loc["mean", f"CER % {decoder}"] == table.loc["theo", f"CER % {decoder}"]
    # The worker wrote to this test's results folder, not the project's, without validation.
    pickle_file = plumbing.RESULTS_DIR / "folds" / "loso_final_model_theo.pickle"
    with open(pickle_file, "rb") as stream:
        history = pickle.load(stream)
    assert len(history["loss"]) == 1 and history["record"]["valid_json"] is None
    assert history["record"]["minibatch_size"] == 8  # the fold trained on the batches asked for
    written = pickle_file.stat().st_mtime_ns
    again = unseen_speakers.leave_one_speaker_out("final_model", small, ["theo"], epochs=1,
                                                  learning_rate=1e-3, minibatch_size=8,
                                                  train_size=24, valid_size=8, results="folds/")
    assert pickle_file.stat().st_mtime_ns == written  # a finished fold is reused, not retrained
    assert again.equals(table)
