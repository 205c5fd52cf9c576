"""sample_models.py, ctc.py, train_utils.py and decoding.py: the VUI models, CTC training, results."""

import json
import pickle

import keras
import numpy as np
import pytest

import ctc
import data_generator
import decoding
import plumbing
import sample_models
import train_utils
import trained_models
from char_map import BLANK_INDEX, char_map
from data_generator import pad_batch


def all_models(input_dim):
    return {
        "model_0": sample_models.simple_rnn_model(input_dim),
        "model_1": sample_models.rnn_model(input_dim, 200, "relu"),
        "model_2": sample_models.cnn_rnn_model(input_dim, 200, 11, 2, "valid", 200),
        "model_2_same": sample_models.cnn_rnn_model(input_dim, 16, 5, 3, "same", 8),
        "model_3": sample_models.deep_rnn_model(input_dim, 200, 2),
        "model_4": sample_models.bidirectional_rnn_model(input_dim, 200),
        "final": sample_models.final_model(input_dim),
        "model_5": sample_models.dilated_cnn_model(input_dim),
        "model_6": sample_models.conv_attention_model(input_dim),
    }


@pytest.mark.parametrize("factory", [lambda: sample_models.final_model(81, 48, units=32),
                                     lambda: sample_models.bidirectional_rnn_model(81, 32),
                                     lambda: sample_models.dilated_cnn_model(81, 32),
                                     lambda: sample_models.conv_attention_model(81, 32)],
                         ids=["final_model", "model_4", "model_5", "model_6"])
def test_padding_in_a_batch_does_not_change_an_utterance(factory):
    """Bidirectional GRUs would read a batch's zero padding backwards, a strided 'same'
    convolution would shift its frame grid with the padded length, stacked 'same'
    convolutions would read the padding's biases and attention would attend to it:
    masked, an utterance gets the same probabilities and text alone as in any batch."""
    model = factory()
    rng = np.random.default_rng(1)
    for weight in model.weights:  # Keras's zero biases would keep a GRU's state 0 over padding
        if "bias" in weight.path:
            weight.assign(rng.normal(0, 0.5, weight.shape))
    features = [rng.normal(size=(frames, 81)).astype(np.float32)
                for frames in (37, 64, 65, 66, 100, 151, 230)]
    batch = ctc.forward_pass(model)(pad_batch(features, 64)).numpy()
    for row, utterance in enumerate(features):
        alone = ctc.forward_pass(model)(utterance[None]).numpy()[0]
        frames = int(model.output_length(len(utterance)))
        np.testing.assert_allclose(batch[row, :frames], alone[:frames], atol=1e-5)
    texts = ctc.predict_texts(model, features, batch_size=4)
    assert texts == [ctc.predict_texts(model, [f])[0] for f in features]
    assert any(texts)  # random weights spell something: the comparison is not of empty strings


def test_parameter_counts_of_the_original_models():
    models = all_models(161)
    counts = {name: model.count_params() for name, model in models.items()}
    assert counts["model_0"] == 16_617
    assert counts["model_1"] == 223_829
    assert counts["model_2"] == 442_029
    assert counts["model_3"] == 465_229
    assert counts["model_4"] == 446_029
    assert sample_models.deep_rnn_model(161, 200, 1).count_params() == counts["model_1"]
    # Conv1D 161*11*192+192, BN 4*192, Conv1D 192*5*192+192, BN 4*192,
    # BiGRU 2*3*(192*128+128*128+2*128), BN 4*256, BiGRU 2*3*(256*128+128*128+2*128),
    # BN 4*256, Dense 256*29+29.
    assert counts["final"] == (340_224 + 768 + 184_512 + 768 + 247_296 + 1_024 + 296_448
                               + 1_024 + 7_453)


def test_models_keep_the_original_layer_names_and_build_args():
    models = all_models(161)
    assert [layer.name for layer in models["model_0"].layers] == ["the_input", "rnn", "softmax"]
    assert [layer.name for layer in models["model_2"].layers] == [
        "the_input", "conv1d", "bn_conv_1d", "rnn", "bn_rnn", "time_dense", "softmax"]
    assert isinstance(models["model_2"].get_layer("rnn"), keras.layers.SimpleRNN)
    assert models["model_4"].get_layer("bidir_rnn").merge_mode == "concat"
    assert models["model_2"].build_args == {
        "factory": "cnn_rnn_model", "input_dim": 161, "filters": 200, "kernel_size": 11,
        "conv_stride": 2, "conv_border_mode": "valid", "units": 200, "output_dim": 29}


def test_output_length_matches_the_real_output_in_compiled_calls():
    for name, model in all_models(13).items():
        for frames in (64, 37, 101, 160, 48):
            output = model.predict_on_batch(np.zeros((3, frames, 13), np.float32))
            assert output.shape == (3, model.output_length(frames), 29), (name, frames)
            np.testing.assert_allclose(output.sum(axis=-1), 1, atol=1e-5)


def test_ctc_loss_equals_the_sum_over_alignments():
    probabilities = np.full((1, 2, 29), 0.01, np.float32)
    probabilities[0, :, char_map["a"]] = 0.6
    probabilities[0, :, BLANK_INDEX] = 0.4 - 0.01 * 27
    a, blank = 0.6, probabilities[0, 0, BLANK_INDEX]
    expected = -np.log(a * a + a * blank + blank * a)  # "aa", "a-", "-a"
    layer = ctc.CTCLoss(lambda frames: frames)
    loss = layer([np.array([[char_map["a"], 0]]), probabilities, np.array([[2]]), np.array([[1]])])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), [expected], rtol=1e-4)


def test_the_listed_alignments_sum_to_the_ctc_loss():
    assert ctc.ctc_alignments("a", 2) == ["aa", "a_", "_a"]
    # A doubled letter needs a blank between its frames: "aab" fits 4 frames only as "a_ab".
    assert ctc.ctc_alignments("aab", 4) == ["a_ab"]
    assert ctc.ctc_alignments("aab", 3) == []
    rng = np.random.default_rng(4)
    for text, frames in (("ab", 4), ("aab", 6), ("abc", 5)):
        probabilities = rng.dirichlet(np.ones(29), size=frames).astype(np.float32)
        total = sum(ctc.path_probability(probabilities, path)
                    for path in ctc.ctc_alignments(text, frames))
        np.testing.assert_allclose(ctc.ctc_loss_of(probabilities, text), -np.log(total),
                                   rtol=1e-4)


def test_toy_probabilities_put_each_column_on_its_symbol():
    toy = ctc.toy_probabilities({"a": [0.7, 0.1], "_": [0.3, 0.9]})
    assert toy.shape == (2, 29)
    assert toy[0, char_map["a"]] == pytest.approx(0.7) and toy[1, BLANK_INDEX] == pytest.approx(0.9)
    assert ctc.path_probability(toy, "a_") == pytest.approx(0.63)


def test_frame_path_and_its_collapse():
    path = ["t", "t", None, "h", "r", "r", None, "e", "e", None, " ", None, "e"]
    probabilities = np.full((len(path), 29), 0.001, np.float32)
    for frame, char in enumerate(path):
        probabilities[frame, BLANK_INDEX if char is None else char_map[char]] = 0.9
    assert decoding.frame_path(probabilities) == "tt_hrr_ee_ _e"
    assert ctc.collapse_path("tt_hrr_ee_ _e") == ("t_hr_e_ _e", "thre e")
    assert ctc.collapse_path("") == ("", "")


def test_frames_for_transcript_rebuilds_each_model_from_its_record():
    for name, model in (("conv", sample_models.final_model(13, 16, units=8)),
                        ("full", sample_models.rnn_model(13, 8, "relu"))):
        path = plumbing.RESULTS_DIR / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"build": model.build_args}))
    table = trained_models.frames_for_transcript(["conv", "full"], 300, "three three")
    assert table["output frames"].tolist() == [100, 300]
    assert table["ms per output frame"].tolist() == [30, 10]
    assert table["frames the text needs"].tolist() == [13, 13]  # 11 characters, "ee" twice
    assert table.loc["conv", "output / needed"] == pytest.approx(7.7)


def test_greedy_decoding_of_a_hand_made_matrix():
    path = ["h", "h", None, "e", "l", None, "l", "l", "o", None, " ", "y", "o"]
    probabilities = np.full((2, len(path) + 3, 29), 0.001, np.float32)
    for frame, char in enumerate(path):
        probabilities[0, frame, BLANK_INDEX if char is None else char_map[char]] = 0.9
    probabilities[1, :, char_map["z"]] = 0.9
    decoded = ctc.greedy_decode(probabilities, [len(path), 2])
    assert decoded == ["hello yo", "z"]


def test_ctc_training_overfits_a_tiny_batch(digit_corpus):
    keras.utils.set_random_seed(0)
    data = data_generator.AudioGenerator(*digit_corpus, minibatch_size=6)
    model = ctc.add_ctc_loss(sample_models.final_model(81, 32, units=32))
    model.compile(loss={"ctc": ctc.ctc_output_loss}, optimizer=keras.optimizers.Adam(1e-2))
    inputs, targets = data.train_batches()[0]
    losses = [float(model.train_on_batch(inputs, targets)) for _ in range(40)]
    assert all(np.isfinite(losses)) and losses[-1] < 0.3 * losses[0]


def train_tiny(corpus, epochs=2, model=None, **kwargs):
    """Train Model 0 (or ``model``) on ``corpus`` without XLA: these tests are about what
    train_model keeps and reuses, and compiling would take most of their time."""
    keras.utils.set_random_seed(1)
    model = model or sample_models.simple_rnn_model(81)
    history = train_utils.train_model(model, "tiny.pickle", "tiny.weights.h5", *corpus[:2],
                                      epochs=epochs, verbose=0, jit_compile=False, **kwargs)
    return model, history


def read_pickle(name):
    with open(plumbing.RESULTS_DIR / name, "rb") as stream:
        return pickle.load(stream)


def test_train_model_writes_history_weights_and_record(digit_corpus):
    model, history = train_tiny(digit_corpus)
    saved = read_pickle("tiny.pickle")
    assert saved["loss"] == history["loss"] and len(saved["val_loss"]) == 2
    assert all(np.isfinite(saved["loss"] + saved["val_loss"] + saved["val_wer"]))
    assert len(saved["seconds"]) == 2 and saved["val_wer"][0] >= 0
    np.testing.assert_allclose(saved["learning_rate"][0], 0.02 / (1 + 1e-6 * 3), rtol=1e-6)
    record = json.loads((plumbing.RESULTS_DIR / "tiny.json").read_text())
    assert record == saved["record"] and record["build"]["factory"] == "simple_rnn_model"
    assert record["features"]["spectrogram"] and record["train_utterances"] == 60
    reloaded = trained_models.load_trained_model("tiny.weights.h5")
    for a, b in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_interrupted_training_keeps_its_epochs_and_resumes(digit_corpus, monkeypatch):
    start_epoch = train_utils.EpochRecorder.on_epoch_begin

    def interrupt_in_the_third_epoch(self, epoch, logs=None):
        if epoch == 2:  # both epochs done are recorded and checkpointed
            raise KeyboardInterrupt
        start_epoch(self, epoch, logs)
    monkeypatch.setattr(train_utils.EpochRecorder, "on_epoch_begin", interrupt_in_the_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_tiny(digit_corpus, epochs=4)
    interrupted = read_pickle("tiny.pickle")
    assert len(interrupted["loss"]) == 2
    monkeypatch.setattr(train_utils.EpochRecorder, "on_epoch_begin", start_epoch)
    train_tiny(digit_corpus, epochs=4)
    resumed = read_pickle("tiny.pickle")
    assert len(resumed["loss"]) == 4 and resumed["loss"][:2] == interrupted["loss"]
    assert resumed["seconds"][:2] == interrupted["seconds"]


def test_nan_loss_stops_training_and_keeps_the_last_good_epoch(digit_corpus, capsys):
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([3], [0.01, 1e15])
    relu_rnn = sample_models.cnn_rnn_model(81, 16, 11, 2, "valid", 16)  # unbounded activations
    model, history = train_tiny(digit_corpus, epochs=3, model=relu_rnn,
                                optimizer=keras.optimizers.SGD(schedule, momentum=0.9))
    assert "Training stopped: the loss became NaN or infinite in epoch 2" in capsys.readouterr().out
    saved = read_pickle("tiny.pickle")
    assert len(saved["loss"]) == 1 and np.isfinite(saved["loss"] + saved["val_loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_nan_in_the_first_epoch_says_that_nothing_was_saved(digit_corpus, capsys):
    relu_rnn = sample_models.cnn_rnn_model(81, 16, 11, 2, "valid", 16)
    train_tiny(digit_corpus, epochs=2, model=relu_rnn,
               optimizer=keras.optimizers.SGD(1e15, momentum=0.9))
    printed = capsys.readouterr().out
    assert "in epoch 1, batch" in printed and "before any epoch finished: nothing was saved" in printed
    assert "kept" not in printed
    assert not (plumbing.RESULTS_DIR / "tiny.weights.h5").exists()
    assert not (plumbing.RESULTS_DIR / "tiny.pickle").exists()


def test_running_a_finished_training_call_again_keeps_its_results(digit_corpus, capsys):
    model, history = train_tiny(digit_corpus, epochs=2)
    weights_file = plumbing.RESULTS_DIR / "tiny.weights.h5"
    kept_weights, kept_pickle = weights_file.read_bytes(), read_pickle("tiny.pickle")
    capsys.readouterr()
    again = train_utils.train_model(model, "tiny.pickle", "tiny.weights.h5", *digit_corpus[:2],
                                    epochs=2, verbose=0, jit_compile=False)  # the same cell twice
    assert "a run of 2 epochs with these settings has finished; loaded its epoch" in \
        capsys.readouterr().out
    assert again["loss"] == history["loss"] and read_pickle("tiny.pickle") == kept_pickle
    assert weights_file.read_bytes() == kept_weights
    rebuilt, _ = train_tiny(digit_corpus, epochs=2)  # after a kernel restart: a new model object
    for a, b in zip(rebuilt.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)

    _, longer = train_tiny(digit_corpus, epochs=3, model=rebuilt)  # more epochs: go on
    assert "going on from epoch 2 of 3" in capsys.readouterr().out
    assert len(longer["loss"]) == 3 and longer["loss"][:2] == history["loss"]
    saved = read_pickle("tiny.pickle")
    assert saved["best_epoch"] == train_utils.best_epoch(saved)

    with pytest.raises(ValueError, match=r"already hold a run of 3 epochs with other settings "
                                         r"\(different: minibatch_size\).*overwrite=True"):
        train_tiny(digit_corpus, epochs=3, minibatch_size=10)
    with pytest.raises(ValueError, match="more than the 2 asked for"):
        train_tiny(digit_corpus, epochs=2)
    assert read_pickle("tiny.pickle") == saved
    with pytest.raises(ValueError, match="already holds trained weights.*build the model again"):
        train_tiny(digit_corpus, epochs=1, model=rebuilt, overwrite=True)
    _, fresh = train_tiny(digit_corpus, epochs=1, minibatch_size=10, overwrite=True)
    assert len(fresh["loss"]) == 1 and read_pickle("tiny.pickle")["record"]["minibatch_size"] == 10


def test_a_finished_run_without_validation_is_reused_with_a_clean_message(digit_corpus, capsys):
    train_json = digit_corpus[0]  # trained without a validation set
    train_tiny((train_json, None), epochs=1)
    capsys.readouterr()
    train_tiny((train_json, None), epochs=1)
    out = capsys.readouterr().out
    assert "has finished; loaded its epoch 1 from" in out and "nan" not in out, out


def test_a_deleted_run_trains_afresh_not_from_its_left_over_checkpoint(digit_corpus):
    """Deleting a run's history and weights (by hand, or a folder emptied) leaves its
    checkpoint behind; Keras would restore it and train nothing."""
    train_tiny(digit_corpus, epochs=2)
    assert (plumbing.RESULTS_DIR / "checkpoints" / "tiny").is_dir()
    for name in ("tiny.pickle", "tiny.weights.h5", "tiny.json"):
        (plumbing.RESULTS_DIR / name).unlink()
    _, history = train_tiny(digit_corpus, epochs=2)
    assert len(history["loss"]) == 2 and len(read_pickle("tiny.pickle")["loss"]) == 2


def test_unwritable_checkpoints_are_reported_before_training(digit_corpus, monkeypatch):
    plumbing.RESULTS_DIR.mkdir(parents=True)
    (plumbing.RESULTS_DIR / "checkpoints").write_text("a file in the way")
    monkeypatch.setattr(train_utils, "AudioGenerator",
                        lambda *args, **kwargs: pytest.fail("features were computed first"))
    with pytest.raises(PermissionError, match=r"cannot write to the folder .*checkpoints"):
        train_tiny(digit_corpus)


def test_weights_file_keeps_the_epoch_with_the_lowest_validation_wer(tmp_path, monkeypatch):
    """The epoch kept is the one with the lowest validation WER; a tie goes to the lower loss."""
    model = sample_models.simple_rnn_model(13)
    model.compile(optimizer=train_utils.cosine_adam(1e-3, epochs=3, steps_per_epoch=10))
    weights_file = tmp_path / "m.weights.h5"
    recorder = train_utils.EpochRecorder(model, tmp_path / "m.pickle", weights_file, {"build": {}},
                                         valid=([np.zeros((5, 13), np.float32)], ["one"]))
    wers = iter([50.0, 20.0, 20.0, 30.0])
    monkeypatch.setattr(recorder, "_validation_wer", lambda: next(wers))
    recorder.set_model(model)
    recorder.on_train_begin()
    for epoch, val_loss in enumerate([3.0, 2.0, 1.0, 0.5]):
        model.set_weights([np.full_like(w, epoch) for w in model.get_weights()])
        recorder.on_epoch_begin(epoch)
        recorder.on_epoch_end(epoch, {"loss": 5.0, "val_loss": val_loss})
    reloaded = sample_models.simple_rnn_model(13)
    reloaded.load_weights(weights_file)
    assert all((w == 2).all() for w in reloaded.get_weights())  # epoch 3: WER 20, loss 1.0
    with open(tmp_path / "m.pickle", "rb") as stream:
        saved = pickle.load(stream)
    assert saved["best_epoch"] == 3 and saved["val_wer"] == [50.0, 20.0, 20.0, 30.0]
    assert saved["weights_sha256"] == plumbing.file_sha256(weights_file)
    assert train_utils.best_epoch({"loss": [1, 1], "val_loss": [float("nan")] * 2}) == 2


def test_bad_training_requests_fail_early_and_clearly(digit_corpus, tmp_path):
    model = sample_models.simple_rnn_model(81)
    with pytest.raises(ValueError, match=r"must end in '.weights.h5'"):
        train_utils.train_model(model, "m.pickle", "m.h5", *digit_corpus[:2])
    with pytest.raises(ValueError, match="epochs must be a whole number, at least 1; got 0"):
        train_utils.train_model(model, "m.pickle", "m.weights.h5", *digit_corpus[:2], epochs=0)
    with pytest.raises(ValueError, match="build it with input_dim=81"):
        train_utils.train_model(sample_models.simple_rnn_model(161), "m.pickle",
                                "m.weights.h5", *digit_corpus[:2])
    line = json.loads(digit_corpus[0].read_text().splitlines()[0])
    line.update(key=str(digit_corpus[0].parent / line["key"]), text="seven " * 40)
    long_text = tmp_path / "long.json"
    long_text.write_text(json.dumps(line) + "\n")
    strided = sample_models.cnn_rnn_model(81, 8, 11, 2, "valid", 8)
    with pytest.raises(ValueError, match=r"00000.wav: the transcript needs 239 output frames.* give only 46"):
        train_utils.train_model(strided, "m.pickle", "m.weights.h5", long_text, None)


def test_weights_refuse_a_model_built_differently(digit_corpus):
    train_tiny(digit_corpus, epochs=1)
    other = sample_models.simple_rnn_model(13)
    with pytest.raises(ValueError, match=r"simple_rnn_model\(input_dim=81\).*input_dim=13"):
        trained_models.load_weights_checked(other, "tiny.weights.h5")
    with pytest.raises(FileNotFoundError, match="train the model first"):
        trained_models.load_weights_checked(other, "never_trained.weights.h5")


def test_evaluation_transcription_and_predictions(digit_corpus, capsys):
    model, _ = train_tiny(digit_corpus, epochs=1)
    table = decoding.transcripts(model, digit_corpus[2])
    assert len(table) == 16 and set(table["style"]) == {"paused", "connected"}
    assert table["truth"][0] == json.loads(digit_corpus[2].read_text().splitlines()[0])["text"]
    scores = decoding.scores(table, lexicon={"one", "two"})
    assert set(scores) == {"WER % paused", "WER % connected", "CER % paused", "CER % connected",
                           "non-words"}
    assert scores["WER % paused"] >= 0 and 0 <= scores["CER % connected"] <= 150
    shown = decoding.transcript_examples(table.assign(prediction=table["truth"]).assign(
        prediction=lambda t: t["prediction"].where(t.index != 5, "x")), count=3)
    assert list(shown.index) == [0, 1, 5] and list(shown["correct"]) == ["yes", "yes", "no"]
    audio = digit_corpus[2].parent / "test" / "00000.wav"
    assert isinstance(decoding.transcribe(audio, model), str)
    player = decoding.get_predictions(0, "test", sample_models.simple_rnn_model(81),
                                      "tiny.weights.h5")
    printed = capsys.readouterr().out
    assert "True transcription (paused):" in printed and table["truth"][0] in printed
    assert player.data[:4] == b"RIFF"
    rates = decoding.error_rates(model, digit_corpus[2])
    assert list(rates.index) == ["greedy", "lexicon", "lexicon + LM"]
    assert rates.loc["lexicon", "non-words"] == rates.loc["lexicon + LM", "non-words"] == 0


def test_models_train_side_by_side_in_workers_as_train_model_would(digit_corpus):
    models = {"small_gru": sample_models.rnn_model(81, 8, "tanh"),
              "small_conv": sample_models.dilated_cnn_model(81, 16, dilations=(1,))}
    table = train_utils.train_in_workers(models, prefix="side/", train_json=digit_corpus[0],
                                         valid_json=digit_corpus[1], epochs=1)
    assert list(table.index) == list(models) and (table["epochs"] == 1).all()
    for name in models:
        assert read_pickle(f"side/{name}.pickle")["record"]["build"]["factory"] == \
            models[name].build_args["factory"]
    again = train_utils.train_in_workers(models, prefix="side/", train_json=digit_corpus[0],
                                         valid_json=digit_corpus[1], epochs=1)
    # finished runs are reused, not trained again
    assert table["trained now"].tolist() == [1, 1] and again["trained now"].tolist() == [0, 0]
    assert again.drop(columns="trained now").equals(table.drop(columns="trained now"))
