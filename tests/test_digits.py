"""Digit track: FSDD spectrogram images, the essay's and our classifiers, experiments, reports."""

import dataclasses
import os
from functools import partial

import numpy as np
import pytest

import digit_experiments
import digit_images
import digit_reports
import plumbing
import sample_models
import utils
from fsdd import FSDD_SPEAKERS


@pytest.fixture(scope="module")
def digits(fsdd_dir, tmp_path_factory):
    """All 3,000 FSDD images, computed once for this module in a private cache."""
    cache = tmp_path_factory.mktemp("digit-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plumbing, "CACHE_DIR", cache)
        return digit_images.load_digit_images(fsdd_dir)


def test_images_shape_range_and_labels(digits):
    assert digits.images.shape == (3000, 64, 64)
    assert digits.images.dtype == np.float32
    assert digits.images.min() == 0.0 and digits.images.max() == 1.0
    assert all(image.max() == 1.0 for image in digits.images)  # scaled per image
    assert np.bincount(digits.labels).tolist() == [300] * 10
    assert sorted(set(digits.speakers)) == sorted(FSDD_SPEAKERS)
    first = digits.paths[0].rsplit("/", 1)[-1]
    assert first == f"{digits.labels[0]}_{digits.speakers[0]}_{digits.takes[0]}.wav"


def test_image_orientation_high_frequencies_on_top():
    """A low tone is bright near the bottom row, a high tone near the top row."""
    rate = 8000
    t = np.arange(rate // 2) / rate
    low = utils.spectrogram_image(np.sin(2 * np.pi * 300 * t), rate)
    high = utils.spectrogram_image(np.sin(2 * np.pi * 3700 * t), rate)
    assert low.mean(axis=1).argmax() > 56
    assert high.mean(axis=1).argmax() < 8


def test_mel_rows_widen_low_frequencies():
    """On the mel scale a 1 kHz tone sits far higher in the image than on a linear axis."""
    rate = 8000
    t = np.arange(rate // 2) / rate
    tone = np.sin(2 * np.pi * 1000 * t)
    linear_row = utils.spectrogram_image(tone, rate).mean(axis=1).argmax()
    mel_row = utils.spectrogram_image(tone, rate, mel=True).mean(axis=1).argmax()
    assert 44 <= linear_row <= 50  # 1 kHz is a quarter of the way up from 0 to 4 kHz
    assert 32 <= mel_row <= 40  # and about 43% of the way up in mels


def test_trim_lets_the_sound_fill_the_width():
    """Silence around a tone is cut before the image is stretched over the recording."""
    rate = 8000
    rng = np.random.default_rng(0)
    t = np.arange(rate // 4) / rate
    quiet = lambda seconds: 1e-4 * rng.standard_normal(int(rate * seconds))
    samples = np.concatenate([quiet(0.5), np.sin(2 * np.pi * 500 * t), quiet(0.25)])
    loud_columns = lambda image: (image.max(axis=0) > 0.9).mean()
    assert 0.2 < loud_columns(utils.spectrogram_image(samples, rate)) < 0.35
    assert loud_columns(utils.spectrogram_image(samples, rate, trim_db=30)) > 0.9


def test_official_split(digits):
    train, test = digit_images.official_split(digits)
    assert (len(train), len(test)) == (2700, 300)
    assert set(train.takes) == set(range(5, 50)) and set(test.takes) == set(range(5))
    assert not set(train.paths) & set(test.paths)
    assert np.bincount(test.labels).tolist() == [30] * 10
    for speaker in FSDD_SPEAKERS:
        assert (test.speakers == speaker).sum() == 50


def test_validation_takes_are_split_off_the_training_set(digits):
    train, _ = digit_images.official_split(digits)
    fit, validation = digit_images.validation_split(train)
    assert set(fit.takes) == set(range(10, 50)) and set(validation.takes) == set(range(5, 10))
    assert (len(fit), len(validation)) == (2400, 300)
    with pytest.raises(ValueError, match="wants the official training set"):
        digit_images.validation_split(validation)


def test_speaker_split(digits):
    train, test = digit_images.speaker_split(digits, "lucas")
    assert (len(train), len(test)) == (2500, 500)
    assert set(test.speakers) == {"lucas"} and "lucas" not in set(train.speakers)
    with pytest.raises(ValueError, match="unknown speaker"):
        digit_images.speaker_split(digits, "alice")


def test_normalize_speakers(digits):
    """Each speaker's rows become z-scores, so a speaker's steady colouring (any positive
    scale and offset per frequency row) no longer shows."""
    data = digits.subset(slice(None, None, 10))
    data.images[data.speakers == "theo", 5, :] = 0.25  # a row that never varies
    before = data.images.copy()
    normalized = digit_images.normalize_speakers(data)
    np.testing.assert_array_equal(data.images, before)  # the input is left as it was
    np.testing.assert_array_equal(normalized.labels, data.labels)
    np.testing.assert_array_equal(normalized.paths, data.paths)
    for speaker in set(data.speakers):
        own = normalized.images[data.speakers == speaker]
        np.testing.assert_allclose(own.mean(axis=(0, 2)), 0, atol=1e-4)
        varies = data.images[data.speakers == speaker].std(axis=(0, 2)) > 0
        np.testing.assert_allclose(own.std(axis=(0, 2))[varies], 1, atol=1e-3)
    assert np.isfinite(normalized.images).all()
    assert not normalized.images[data.speakers == "theo", 5].any()
    rng = np.random.default_rng(0)
    lucas = data.speakers == "lucas"
    coloured = data.images.copy()
    coloured[lucas] = (coloured[lucas] * rng.uniform(0.5, 2.0, (64, 1))
                       + rng.uniform(-0.3, 0.3, (64, 1)))
    recoloured = digit_images.normalize_speakers(dataclasses.replace(data, images=coloured))
    np.testing.assert_allclose(recoloured.images, normalized.images, atol=2e-3)


def test_cache_is_reused(fsdd_dir, isolated_outputs, monkeypatch):
    first = digit_images.load_digit_images(fsdd_dir, size=16)
    cached = list((isolated_outputs / "cache").glob("fsdd-images-*.npz"))
    assert len(cached) == 1
    monkeypatch.setattr(digit_images, "spectrogram_image", None)  # would fail if called
    second = digit_images.load_digit_images(fsdd_dir, size=16)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.images.shape == (3000, 16, 16)


def test_image_batches_cover_every_image_once_per_epoch(digits):
    _, test = digit_images.official_split(digits)
    ordered = digit_images.ImageBatches(test, 64, shuffle=False)
    assert len(ordered) == 5  # 300 images: four batches of 64 and one of 44
    images, labels = ordered[4]
    assert images.shape == (44, 64, 64) and np.array_equal(labels, test.labels[256:])
    shuffled = digit_images.ImageBatches(test, 64, shuffle=True, seed=1)
    epochs = []
    for _ in range(2):
        epochs.append(np.concatenate([shuffled[i][1] for i in range(len(shuffled))]))
        shuffled.on_epoch_end()
    for seen in epochs:  # a permutation of the labels each epoch
        assert np.array_equal(np.sort(seen), np.sort(test.labels))
    assert not np.array_equal(epochs[0], epochs[1])
    again = digit_images.ImageBatches(test, 64, shuffle=True, seed=1)
    assert np.array_equal(np.concatenate([again[i][1] for i in range(len(again))]), epochs[0])


def test_essay_cnn_structure():
    model = sample_models.essay_cnn()
    kinds = [type(layer).__name__ for layer in model.layers[2:]]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D",
                     "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"]
    assert model.get_layer("conv_4").output.shape == (None, 4, 4, 64)
    # conv_1: (3*3*1 + 1) * 64 = 640; conv_2..4: (3*3*64 + 1) * 64 = 36,928 each;
    # 64 -> conv 62 -> pool 31 -> 29 -> 14 -> 12 -> 6 -> conv 4, flatten 4*4*64 = 1,024;
    # dense: 1,024*64 + 64 = 65,600; logits: 64*10 + 10 = 650.
    assert model.count_params() == 640 + 3 * 36_928 + 65_600 + 650 == 177_674
    assert model.output.shape == (None, 10)


def test_essay_rnn_structure():
    model = sample_models.essay_rnn()
    lstm_1, lstm_2 = model.get_layer("lstm_1"), model.get_layer("lstm_2")
    assert lstm_1.units == lstm_2.units == 128
    assert lstm_1.activation.__name__ == lstm_2.activation.__name__ == "relu"
    assert [model.get_layer(f"dropout_{i}").rate for i in (1, 2, 3)] == [0.2, 0.1, 0.2]
    assert lstm_1.output.shape == (None, 64, 128)  # one step per image row
    # LSTM: 4 gates * (units * (inputs + units) + units):
    # lstm_1: 4 * (128 * (64 + 128) + 128) = 98,816; lstm_2: 4 * (128 * 256 + 128) = 131,584;
    # dense: 128*32 + 32 = 4,128; logits: 32*10 + 10 = 330.
    assert model.count_params() == 98_816 + 131_584 + 4_128 + 330 == 234_858


def test_time_rnn_steps_through_time():
    model = sample_models.time_rnn()
    assert model.get_layer("stack_frames").output.shape == (None, 16, 128)
    # Per direction, 3 gates * (units * (inputs + units) + 2 * units) (reset_after):
    # bigru_1 2 * 3 * (128 * (128 + 128) + 256) = 198,144; bigru_2 2 * 3 * (128 * (256 + 128)
    # + 256) = 296,448; logits 256 * 10 + 10 = 2,570.
    assert model.count_params() == 198_144 + 296_448 + 2_570
    image = np.zeros((1, 64, 64), np.float32)
    image[0, :, 40:] = 1.0  # the last columns, i.e. late in time
    probe = sample_models.keras.Model(model.input, model.get_layer("stack_frames").output)
    steps = np.asarray(probe(image)).mean(axis=2)[0]
    assert steps[:10].max() < steps[10:].min()  # step i holds columns 4i to 4i + 3
    with pytest.raises(ValueError, match="must divide"):
        sample_models.time_rnn(stack=3)


def test_digit_cnn_structure():
    model = sample_models.digit_cnn()
    assert model.get_layer("pool_4").output.shape == (None, 2, 2, 128)
    # Convolutions without bias, 3*3*in*out: 144 + 4,608 + 18,432 + 73,728 = 96,912;
    # batch norm, 4 values per channel: 4 * (16 + 32 + 64 + 128) = 960; logits 1,290.
    assert model.count_params() == 96_912 + 960 + 1_290


def test_spec_augment_only_in_training():
    layer = sample_models.SpecAugment(max_shift=4, freq_mask=8, time_mask=8, seed=1)
    images = np.ones((8, 64, 64), np.float32)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    augmented = np.asarray(layer(images, training=True))
    assert augmented.shape == images.shape
    assert 0 < (augmented == 0).mean() < 0.5
    assert set(np.unique(augmented)) <= {0.0, 1.0}


def test_training_smoke(digits):
    """A few hundred images, two epochs: the run record is complete and consistent."""
    train, test = digit_images.official_split(digits)
    train, test = train.subset(slice(0, 2700, 9)), test.subset(slice(0, 300, 3))
    model, run = digit_experiments.fit_digit_model(sample_models.essay_cnn, train, test, epochs=2,
                                             seed=3)
    assert run["model"] == "essay_cnn" and run["epochs"] == 2 and run["seed"] == 3
    assert len(run["seconds"]) == len(run["test_accuracy"]) == 2
    assert run["predictions"].shape == (100,)
    assert run["probabilities"].shape == (100, 10)
    np.testing.assert_allclose(run["probabilities"].sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(run["probabilities"].argmax(axis=1), run["predictions"])
    accuracy = (run["predictions"] == test.labels).mean()
    assert accuracy == pytest.approx(run["test_accuracy"][-1], abs=1e-6)
    assert run["cpu_count"] >= 1 and run["train_size"] == 300
    row = digit_experiments.summarize_runs([run, run], "smoke", target=0.0)
    assert row["runs"] == 2 and row["accuracy_std"] == 0.0
    assert row["reached_0%"] == 2
    path = digit_experiments.save_digit_runs([run], "digits_smoke")
    assert digit_experiments.load_digit_runs("digits_smoke")[0]["seed"] == 3 and path.is_file()


def test_leave_one_speaker_out_in_worker_processes(digits):
    """Held-out speakers over two seeds, trained side by side in one-thread worker processes."""
    data = digits.subset(np.isin(digits.speakers, ["jackson", "lucas", "theo"])
                         & (digits.takes < 4))
    factory = partial(sample_models.digit_cnn, filters=(8, 16))  # a partial reaches the workers
    runs = digit_experiments.leave_one_speaker_out(factory, data, epochs=1, seeds=(2, 5),
                                                   speakers=["theo", "lucas"], processes=2)
    assert [(run["seed"], run["held_out"]) for run in runs] == [
        (2, "theo"), (2, "lucas"), (5, "theo"), (5, "lucas")]
    for run in runs:
        assert run["test_size"] == 40 and run["train_size"] == 80
        assert run["predictions"].shape == (40,)
        assert run["cpus_used"] == max(1, len(os.sched_getaffinity(0)) // 2)
    with pytest.raises(ValueError, match="epochs must be at least 1"):  # raised in a worker
        digit_experiments.leave_one_speaker_out(factory, data, epochs=0, speakers=["theo"])


def test_time_to_accuracy_speed_summary_and_confusion():
    run = {"test_accuracy": [0.5, 0.8, 0.95, 0.9], "seconds": [3.0, 2.0, 2.0, 2.0],
           "precision": "float32"}
    assert digit_experiments.time_to_accuracy(run, 0.8) == (2, 5.0)
    assert digit_experiments.time_to_accuracy(run, 0.95) == (3, 7.0)
    assert np.isnan(digit_experiments.time_to_accuracy(run, 0.99)[1])
    slow = {**run, "test_accuracy": [0.1, 0.2, 0.3, 0.85], "seconds": [4.0, 3.0, 3.0, 5.0]}
    speed = digit_experiments.speed_summary([run, slow], 0.8)
    assert speed["s/epoch"] == 2.5 and (speed["s/epoch min"], speed["s/epoch max"]) == (2.0, 5.0)
    assert (speed["reached"], speed["runs"]) == (2, 2) and speed["first epoch s"] == 3.5
    assert speed["s to target"] == pytest.approx(10.0)  # median of 5 s and 15 s
    assert (speed["s to target min"], speed["s to target max"]) == (5.0, 15.0)
    never = digit_experiments.speed_summary([{**run, "test_accuracy": [0.1] * 4}], 0.8)
    assert never["reached"] == 0 and np.isnan(never["s to target"])
    table = digit_reports.speed_table({"cnn": [run, slow]}, 0.8)
    assert table.loc["cnn", "runs reaching 80%"] == "2 of 2"
    assert table.loc["cnn", "s to 80%, range"] == "5.0-15.0"
    matrix = digit_reports.confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], classes=3)
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_fit_rejects_bad_input(digits):
    train, test = digit_images.official_split(digits)
    with pytest.raises(ValueError, match="epochs"):
        digit_experiments.fit_digit_model(sample_models.essay_cnn, train, test, epochs=0)


def _fake_run(accuracy, loss=(2.0, 1.0), predictions=(0, 1, 2), seed=0, epochs=None, **extra):
    """A run dict with the fields the summaries read; ``accuracy`` per epoch, as fractions."""
    epochs = epochs or len(accuracy)
    return {"model": "m", "params": 1, "seed": seed, "epochs": epochs, "learning_rate": 1e-3,
            "cosine": False, "batch_size": 32, "precision": "float32", "train_size": 9,
            "test_size": 300, "machine": "cpu", "cpu_count": 2, "cpus_used": 2,
            "loss": list(loss), "test_accuracy": list(accuracy), "seconds": [2.0] * epochs,
            "predictions": np.array(predictions), **extra}


def test_divergence_names_blow_ups_non_finite_losses_and_one_class_runs():
    assert digit_experiments.divergence(_fake_run([0.9])) is None
    assert digit_experiments.divergence(_fake_run([0.1], loss=(2.0, 7.6e5))) == (
        "training loss blew up to 7.6e+05 in epoch 2")
    assert digit_experiments.divergence(_fake_run([0.1], loss=(2.0, np.nan))) == (
        "training loss not finite in epoch 2")
    assert digit_experiments.divergence(_fake_run([0.1], predictions=(7, 7, 7))) == (
        "predicts '7' for every test recording")
    official = {"good": [_fake_run([0.9])], "m": [_fake_run([0.2], loss=(2.0, np.inf), seed=3)]}
    unseen = {"good": [_fake_run([0.9], held_out="theo")],
              "m": [_fake_run([0.1], predictions=(3, 3), held_out="lucas")]}
    table = digit_reports.diverged_runs({"official split": official, "unseen speakers": unseen})
    # the same label in two experiments: both of its diverged runs are named
    assert table[["experiment", "model", "seed", "held-out speaker", "accuracy %"]].values.tolist() \
        == [["official split", "m", 3, "", 20.0], ["unseen speakers", "m", 0, "lucas", 10.0]]
    row = digit_experiments.summarize_runs([_fake_run([0.9]), _fake_run([0.1], predictions=(1, 1))],
                                           "x")
    assert row["diverged"] == 1 and row["accuracy_mean"] == pytest.approx(50.0)


def test_official_against_unseen_at_the_same_epochs_and_seeds():
    official = {"cnn": [_fake_run([0.5, 0.9], seed=1), _fake_run([0.6, 0.7], seed=2)]}
    loso = {"cnn": [_fake_run([0.6, 0.7], seed=1, held_out="a"),
                    _fake_run([0.1, 0.1], seed=1, predictions=(4, 4), held_out="b")]}
    row = digit_reports.official_vs_unseen(official, loso, epochs=2).loc["cnn"]
    assert row["seeds"] == 1 and row["official split %"] == pytest.approx(90)  # seed 1 only
    assert row["unseen speakers %"] == pytest.approx(40) and row["diverged folds"] == 1
    assert row["unseen, without diverged %"] == pytest.approx(70)
    assert row["cost (points)"] == pytest.approx(50)
    with pytest.raises(ValueError, match="the official runs must have the held-out runs' seeds"):
        digit_reports.official_vs_unseen({"cnn": [_fake_run([0.9], seed=5)]}, loso, epochs=2)
    table = digit_reports.unseen_table({"cnn": loso["cnn"] + [_fake_run([0.5, 0.5], seed=2,
                                                                        held_out="a")]})
    assert table.loc["a", "cnn"] == 60.0 and table.loc["b", "cnn"] == 10.0
    assert table.loc["mean ± sd over seeds", "cnn"] == "45.00 ± 7.07"  # seed means 40 and 50


def test_accuracy_table_reads_every_run_at_each_epoch():
    runs = {"essay CNN": [_fake_run([0.5, 0.9, 0.95]), _fake_run([0.7, 0.8, 0.85], seed=1)]}
    table = digit_reports.accuracy_table(runs, (1, 3), {("essay CNN", 3): (96.0, 298)})
    assert list(table.index) == [("essay CNN", 1), ("essay CNN", 3)]
    assert table.loc[("essay CNN", 3), "accuracy % (mean ± sd)"] == "90.00 ± 7.07"
    assert table.loc[("essay CNN", 3), "essay accuracy %"] == 96.0
    assert np.isnan(table.loc[("essay CNN", 1), "essay s"])


def test_essay_verdicts_read_the_claims_against_the_seeds():
    reported = {("essay CNN", 10): (94.67, 125), ("essay CNN", 16): (96.67, 201),
                ("essay CNN", 24): (96.00, 298), ("essay RNN", 10): (29.00, 71),
                ("essay RNN", 16): (87.00, 110), ("essay RNN", 24): (90.67, 165)}
    cnn = [_fake_run([0.95, 0.97, 0.975], seed=s) for s in range(2)]
    cnn[1]["test_accuracy"] = [0.95, 0.98, 0.965]
    rnn = [_fake_run([0.80, 0.90, 0.92], seed=s) for s in range(2)]
    for run in cnn:
        run["seconds"] = [8.0, 6.0, 6.0]
    speed = digit_reports.speed_table({"essay CNN": cnn, "essay RNN": rnn}, 0.9)
    table = digit_reports.essay_verdicts({"essay CNN": cnn, "essay RNN": rnn}, speed, reported,
                                         epochs=(1, 2, 3))
    verdicts = dict(zip(table["claim"], table["verdict"]))
    assert verdicts["the CNN is more accurate than the RNN (24 epochs)"].startswith(
        "holds: 5.00 points")
    assert verdicts["the RNN trains faster per epoch"] == (
        "holds: the essay RNN takes 0.33 times the essay CNN's time")
    assert "both in float32" in table["this run"][1]
    assert verdicts["the CNN overfits after 16 epochs (less accurate at 24)"].startswith(
        "not supported: a change of -0.50 points")
    assert "falls in 1 of 2 seeds" in table["this run"][2]
    assert verdicts["the RNN needs a long warm-up (29% after 10 epochs)"].startswith(
        "not reproduced")
    assert "(2 of 300 recordings)" in table["the essay (one run)"][2]
    answer = digit_reports.answer({"essay CNN": cnn, "essay RNN": rnn}, speed, 0.9)
    assert answer.startswith("**The CNN is the more accurate (97.00% against 92.00%")
    assert "after 3 epochs) and the RNN reaches 90% sooner (4 s)" in answer  # 2 + 2 s against 8 s
    assert "the RNN is the cheaper (2.00 s against 6.00 s, both in float32)" in answer

    # epoch times whose ranges overlap: no faster network is shown
    for run, seconds in zip(rnn, ([8.0, 5.0, 6.5], [8.0, 5.5, 5.0])):
        run["seconds"] = seconds
    speed = digit_reports.speed_table({"essay CNN": cnn, "essay RNN": rnn}, 0.9)
    table = digit_reports.essay_verdicts({"essay CNN": cnn, "essay RNN": rnn}, speed, reported,
                                         epochs=(1, 2, 3))
    assert dict(zip(table["claim"], table["verdict"]))["the RNN trains faster per epoch"] == (
        "not shown: the essay RNN takes 0.88 times the essay CNN's time, inside the overlap of "
        "the runs' epoch times (6.00-6.00 s and 5.00-6.50 s)")
    answer = digit_reports.answer({"essay CNN": cnn, "essay RNN": rnn}, speed, 0.9)
    assert ("per epoch the two cost about the same (RNN 5.25 s, CNN 6.00 s: the ranges of "
            "their runs overlap, both in float32)") in answer

    # one seed whose accuracy keeps rising: the claim is contradicted
    rising = {"essay CNN": [_fake_run([0.20, 0.30, 0.40])], "essay RNN": rnn[:1]}
    table = digit_reports.essay_verdicts(rising, digit_reports.speed_table(rising, 0.9),
                                         reported, epochs=(1, 2, 3))
    verdicts = dict(zip(table["claim"], table["verdict"]))
    assert verdicts["the CNN overfits after 16 epochs (less accurate at 24)"].startswith(
        "contradicted: the mean rises by 10.00 points")
    assert "falls in 0 of 1 seeds" in table["this run"][2]


def test_speed_by_precision_times_each_model_in_each_precision(digits):
    data = digits.subset(np.isin(digits.speakers, ["jackson", "lucas"]) & (digits.takes < 8))
    factory = partial(sample_models.digit_cnn, filters=(8, 16))
    train, test = digit_images.official_split(data)
    speed = digit_experiments.speed_by_precision({"small CNN": factory}, train, test, 2,
                                                 ("float32",))
    assert list(speed.columns) == ["s/epoch float32"] and speed.loc["small CNN"].item() > 0


def test_plots_keep_one_colour_per_model_mark_diverged_runs_and_chance():
    runs = {"essay CNN": [_fake_run([0.5, 0.9]), _fake_run([0.6, 0.1], seed=1,
                                                           loss=(2.0, 900.0))],
            "our RNN": [_fake_run([0.7, 0.95])]}
    figure = digit_reports.plot_digit_curves(runs, essay={"essay CNN": {1: 55.0, 2: 85.0}})
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["essay CNN: mean of 2 seeds", "essay CNN: lowest to highest seed",
                      "essay CNN: diverged runs (x: loss blew up)", "our RNN: mean of 1 seed",
                      "essay CNN: the essay's single runs", "chance (10%)"]
    essay_markers = [line for line in figure.axes[0].get_lines()
                     if line.get_label() == "essay CNN: the essay's single runs"]
    assert essay_markers[0].get_linestyle() == "None"  # separate runs, not joined by a line
    loso = {"essay CNN": [_fake_run([0.8], held_out="a"), _fake_run([0.1], held_out="b",
                                                                    loss=(2.0, 900.0))]}
    bars = digit_reports.plot_loso_accuracy(loso).axes[0]
    import matplotlib.colors
    assert [matplotlib.colors.to_hex(patch.get_facecolor()) for patch in bars.patches] == [
        digit_reports.MODEL_COLOURS["essay CNN"]] * 2
    assert any(line.get_marker() == "x" for line in bars.get_lines())
