"""Speed of the VUI pipeline on this machine; prints figures, asserts nothing.

    python benchmarks/speed.py [--model final_model] [--epochs 2]

1. Feature extraction: spectrogram and MFCC speed as a multiple of real time,
   on the training corpus's audio (decoding included) and on 10 s of 16 kHz audio.
2. Batch serving: the time to build one epoch of padded CTC batches, against the
   floor of the model's pure train steps on the same batches, ready in memory.
3. Training: seconds per epoch of ``model.fit`` on the batch dataset (as
   ``train_model`` runs it, validation excluded) against the same floor.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import soundfile  # noqa: E402

import sample_models  # noqa: E402
import train_utils  # noqa: E402
from data_generator import DIGITS_TRAIN_JSON, AudioGenerator, Featurizer, load_description_file  # noqa: E402
from utils import mfcc_features, spectrogram  # noqa: E402

MODELS = {
    "final_model": lambda dim: sample_models.final_model(dim),
    "model_1": lambda dim: sample_models.rnn_model(dim, 200, "relu"),
    "model_4": lambda dim: sample_models.bidirectional_rnn_model(dim, 200),
}


def seconds(function, repeats=1):
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def feature_speed(train_json):
    utterances = load_description_file(train_json)[:400]
    audio_seconds = sum(u["duration"] for u in utterances)
    rate = soundfile.info(utterances[0]["key"]).samplerate
    for name, spectral in (("spectrogram", True), ("MFCC", False)):
        featurizer = Featurizer(rate, spectrogram=spectral)
        took = seconds(lambda: [featurizer(u["key"]) for u in utterances])
        print(f"{name:12s} from files: {audio_seconds / took:8.0f} x real time "
              f"({len(utterances)} files, {audio_seconds:.0f} s of audio in {took:.2f} s)")
    ten_seconds = np.random.default_rng(0).standard_normal(160_000).astype(np.float32)
    took = seconds(lambda: spectrogram(ten_seconds, 16000), repeats=20)
    print(f"spectrogram of 10 s at 16 kHz: {took * 1000:.1f} ms ({10 / took:.0f} x real time)")
    took = seconds(lambda: mfcc_features(ten_seconds, 16000), repeats=20)
    print(f"MFCC of 10 s at 16 kHz: {took * 1000:.1f} ms ({10 / took:.0f} x real time)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="final_model")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed (the first is warm-up)")
    parser.add_argument("--train-json", default=DIGITS_TRAIN_JSON)
    args = parser.parse_args()
    print(f"machine: {train_utils._machine()}, keras {keras.__version__}")

    print("\n== 1. feature extraction")
    feature_speed(args.train_json)

    data = AudioGenerator(args.train_json, valid_json=None)
    batches = data.train_batches()
    print(f"\n== 2./3. {args.model} on {len(data.train)} utterances, {len(batches)} batches "
          f"of {data.minibatch_size}")
    serve = seconds(lambda: [batches[i] for i in range(len(batches))])
    ready = [batches[i] for i in range(len(batches))]

    keras.utils.set_random_seed(0)
    model = train_utils.add_ctc_loss(MODELS[args.model](data.input_dim))
    model.compile(loss={"ctc": train_utils.ctc_output_loss}, optimizer=train_utils.default_optimizer())
    floors = [seconds(lambda: [model.train_on_batch(x, y) for x, y in ready])
              for _ in range(args.epochs)]
    floor = min(floors[1:] or floors)
    print(f"floor, train steps on ready batches: {floor:7.2f} s per epoch")
    print(f"serving one epoch of batches:        {serve:7.2f} s per epoch "
          f"({serve / floor:.3f} x the floor)")

    epoch_times = []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epoch_times.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_times.__setitem__(
            -1, epoch_times[-1] + time.perf_counter()))
    model.fit(batches, epochs=args.epochs, verbose=0, callbacks=[timer])
    end_to_end = min(epoch_times[1:] or epoch_times)
    print(f"model.fit on the PyDataset:          {end_to_end:7.2f} s per epoch "
          f"({end_to_end / floor:.3f} x the floor)")


if __name__ == "__main__":
    main()
