"""Speed of the VUI pipeline on this machine; prints figures, asserts nothing.

    python benchmarks/speed.py [--model final_model] [--epochs 4] [--librispeech]

1. Feature extraction: spectrogram and MFCC speed as a multiple of real time,
   on the training corpus's audio (decoding included) and on 10 s of 16 kHz audio.
2. Batch serving: the time to build one epoch of padded CTC batches, against the
   floor of the model's pure train steps on the same batches, ready in memory.
3. Training: seconds per epoch of ``model.fit`` on the batch dataset (as
   ``train_model`` runs it, validation excluded) against the same floor.
4. With ``--librispeech``: the cost of LibriSpeech on this machine, from train
   steps on batches shaped like it (20 utterances, 161 features, 600 and 1,000
   frames) times the 102 batches of its 2,023 training utterances.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from plumbing import (CommandParser, machine_description, positive_int,  # noqa: E402
                      stderr_to_devnull)

with stderr_to_devnull():  # TensorFlow's C++ start-up log
    import keras  # noqa: E402
    import numpy as np  # noqa: E402
    import soundfile  # noqa: E402

    import ctc  # noqa: E402
    import sample_models  # noqa: E402
    import train_utils  # noqa: E402
    from data_generator import (DIGITS_TRAIN_JSON, AudioGenerator, Featurizer,  # noqa: E402
                                load_description_file)
    from utils import log_spectrogram, mfcc_features  # noqa: E402

# name: (factory of input_dim, jit_compile as the VUI notebook trains it)
MODELS = {
    "final_model": (lambda dim: sample_models.final_model(dim), False),
    "model_0": (lambda dim: sample_models.simple_rnn_model(dim), True),
    "model_1": (lambda dim: sample_models.rnn_model(dim, 200, "relu"), True),
    "model_2": (lambda dim: sample_models.cnn_rnn_model(dim, 200, 11, 2, "valid", 200), True),
    "model_3": (lambda dim: sample_models.deep_rnn_model(dim, 200, 2), True),
    "model_4": (lambda dim: sample_models.bidirectional_rnn_model(dim, 200), True),
}
LIBRISPEECH_TRAIN_UTTERANCES = 2023  # dev-clean utterances of at most 10 s


def compiled(name, input_dim):
    """The model ``name`` wrapped with CTC and compiled as ``train_model`` compiles it."""
    factory, jit_compile = MODELS[name]
    keras.utils.set_random_seed(0)
    model = ctc.add_ctc_loss(factory(input_dim))
    model.compile(loss={"ctc": ctc.ctc_output_loss},
                  optimizer=train_utils.cosine_adam(1e-3, 20, 100), jit_compile=jit_compile)
    return model


def librispeech_cost(name, batch_size=20):
    """Print seconds per train step and per epoch on LibriSpeech-shaped random batches."""
    steps = -(-LIBRISPEECH_TRAIN_UTTERANCES // batch_size)
    rng = np.random.default_rng(0)
    for frames in (600, 1000):
        model = compiled(name, 161)
        batch = ({"the_input": rng.standard_normal((batch_size, frames, 161), np.float32),
                  "the_labels": rng.integers(0, 28, (batch_size, 160), dtype=np.int32),
                  "input_length": np.full((batch_size, 1), frames, np.int32),
                  "label_length": np.full((batch_size, 1), frames // 8, np.int32)},
                 np.zeros(batch_size, np.float32))
        model.train_on_batch(*batch)  # compile
        step = seconds(lambda: model.train_on_batch(*batch), repeats=3)
        print(f"{name}, {frames} frames ({frames / 100:.0f} s) per utterance: {step:.2f} s per "
              f"step of {batch_size}, {steps * step / 60:.1f} min per epoch of {steps} steps")


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
    took = seconds(lambda: log_spectrogram(ten_seconds, 16000), repeats=20)
    print(f"spectrogram of 10 s at 16 kHz: {took * 1000:.1f} ms ({10 / took:.0f} x real time)")
    took = seconds(lambda: mfcc_features(ten_seconds, 16000), repeats=20)
    print(f"MFCC of 10 s at 16 kHz: {took * 1000:.1f} ms ({10 / took:.0f} x real time)")


def main():
    parser = CommandParser(prog="benchmarks/speed.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="final_model")
    parser.add_argument("--epochs", type=positive_int, default=4,
                        help="epochs timed; the first is warm-up, the median of the rest is reported")
    parser.add_argument("--train-json", default=DIGITS_TRAIN_JSON)
    parser.add_argument("--batch-size", type=positive_int, default=20,
                        help="utterances per batch")
    parser.add_argument("--librispeech", action="store_true",
                        help="only estimate the cost of an epoch of LibriSpeech dev-clean")
    args = parser.parse_args()
    print(f"machine: {machine_description()}, keras {keras.__version__}")
    if args.librispeech:
        librispeech_cost(args.model)
        return

    print("\n== 1. feature extraction")
    feature_speed(args.train_json)

    data = AudioGenerator(args.train_json, valid_json=None, minibatch_size=args.batch_size)
    batches = data.train_batches()
    print(f"\n== 2./3. {args.model} on {len(data.train)} utterances, {len(batches)} batches "
          f"of {data.minibatch_size}")
    serve = seconds(lambda: [batches[i] for i in range(len(batches))])
    ready = [batches[i] for i in range(len(batches))]

    model = compiled(args.model, data.input_dim)
    floors = [seconds(lambda: [model.train_on_batch(x, y) for x, y in ready])
              for _ in range(args.epochs)]
    floor = float(np.median(floors[1:] or floors))
    print(f"floor, train steps on ready batches: {floor:7.2f} s per epoch")
    print(f"serving one epoch of batches:        {serve:7.2f} s per epoch "
          f"({serve / floor:.3f} x the floor)")

    epoch_times = []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epoch_times.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_times.__setitem__(
            -1, epoch_times[-1] + time.perf_counter()))
    model.fit(batches, epochs=args.epochs, verbose=0, callbacks=[timer])
    end_to_end = float(np.median(epoch_times[1:] or epoch_times))
    print(f"model.fit on the PyDataset:          {end_to_end:7.2f} s per epoch "
          f"({end_to_end / floor:.3f} x the floor)")
    print("epochs timed (s), the first is warm-up: floor",
          " ".join(f"{t:.2f}" for t in floors), "| fit", " ".join(f"{t:.2f}" for t in epoch_times))


if __name__ == "__main__":
    main()
