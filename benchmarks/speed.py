"""Speed of the VUI pipeline on this machine's devices; prints figures, asserts nothing.

    python benchmarks/speed.py [--model final_model] [--epochs 4] [--batch-size 20]
                               [--librispeech] [--devices all|N]
                               [--precision float32|mixed_float16]

1. Feature extraction: spectrogram and MFCC speed as a multiple of real time, on
   the training corpus's audio (decoding included) and on 10 s of 16 kHz audio.
2. The floor: seconds per epoch of the model's pure train steps on the epoch's
   batches, ready in memory (``train_on_batch``).
3. Batch serving: the time to build one epoch of padded CTC batches, against the floor.
4. Training: seconds per epoch of ``model.fit`` on the batches as ``train_model``
   serves them (validation excluded), against the same floor: the input pipeline's cost.

The batches are the default digit corpus's, or with ``--librispeech`` LibriSpeech-shaped
ones: 10-15 s utterances (1,000-1,500 frames) of 161 spectrogram features and
transcripts of one character per 8 frames, as many as ``--utterances`` says (the 2,023
of dev-clean by default). ``--devices`` trains on the machine's GPUs (all or the first N)
with ``tf.distribute.MirroredStrategy`` as ``train.py --devices`` does: each replica takes
``--batch-size`` utterances per step. ``--precision mixed_float16`` builds the model under
Keras's mixed precision, as ``train.py --precision`` does. The figures are medians of the epochs after the
first, which also compiles.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from plumbing import (CommandParser, machine_description, positive_int,  # noqa: E402
                      stderr_to_devnull)

with stderr_to_devnull():  # TensorFlow's C++ start-up log
    import keras  # noqa: E402
    import numpy as np  # noqa: E402
    import soundfile  # noqa: E402
    import tensorflow as tf  # noqa: E402

    import ctc  # noqa: E402
    import sample_models  # noqa: E402
    import train_utils  # noqa: E402
    from data_generator import (DIGITS_TRAIN_JSON, AudioGenerator, CTCBatches,  # noqa: E402
                                Featurizer, load_description_file)
    from train import _devices, gpu_strategy  # noqa: E402
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


def compiled(name, input_dim, strategy, precision):
    """The model ``name`` wrapped with CTC and compiled as ``train_model`` compiles it."""
    factory, jit_compile = MODELS[name]
    keras.utils.set_random_seed(0)
    with strategy.scope(), train_utils.dtype_policy(precision):
        model = ctc.add_ctc_loss(factory(input_dim))
        model.compile(loss={"ctc": ctc.ctc_output_loss},
                      optimizer=train_utils.cosine_adam(1e-3, 20, 100), jit_compile=jit_compile)
    return model


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


def librispeech_batches(count, batch_size, seed=0):
    """``CTCBatches`` shaped like LibriSpeech: ``count`` random 10-15 s utterances of 161 features."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(1000, 1501, size=count)
    features = [rng.standard_normal((n, 161), np.float32) for n in frames]
    texts = ["".join(rng.choice(list("abcdefghij klmnop"), size=n // 8)).strip() or "a"
             for n in frames]
    return CTCBatches(features, texts, batch_size, shuffle=True)


def main():
    parser = CommandParser(prog="speed.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="final_model")
    parser.add_argument("--epochs", type=positive_int, default=4,
                        help="epochs timed; the first is warm-up, the median of the rest is reported")
    parser.add_argument("--train-json", default=DIGITS_TRAIN_JSON)
    parser.add_argument("--batch-size", type=positive_int, default=20,
                        help="utterances per step (per replica with --devices)")
    parser.add_argument("--librispeech", action="store_true",
                        help="LibriSpeech-shaped batches instead of the digit corpus")
    parser.add_argument("--utterances", type=positive_int, default=LIBRISPEECH_TRAIN_UTTERANCES,
                        help="LibriSpeech-shaped utterances per epoch")
    parser.add_argument("--devices", metavar="all|N", type=_devices,
                        help="train on all the GPUs, or the first N, as train.py --devices")
    parser.add_argument("--precision", choices=train_utils.PRECISIONS, default="float32",
                        help="Keras dtype policy of the model (default float32)")
    args = parser.parse_args()
    try:
        strategy = gpu_strategy(args.devices) if args.devices else tf.distribute.get_strategy()
    except ValueError as error:
        parser.exit(2, f"speed.py: error: {error}\n")
    replicas = strategy.num_replicas_in_sync
    devices = (f"{replicas} GPU(s)" if args.devices else
               "one GPU" if tf.config.list_logical_devices("GPU") else "the CPU")
    print(f"machine: {machine_description()}, keras {keras.__version__}, training on {devices} "
          f"in {args.precision}")
    global_batch = args.batch_size * replicas
    if args.librispeech:
        batches, input_dim = librispeech_batches(args.utterances, global_batch), 161
        print(f"\n== {args.model} on {args.utterances} LibriSpeech-shaped utterances of 10-15 s")
    else:
        print("\n== feature extraction")
        feature_speed(args.train_json)
        data = AudioGenerator(args.train_json, valid_json=None, minibatch_size=global_batch)
        batches, input_dim = data.train_batches(), data.input_dim
        print(f"\n== {args.model} on {len(data.train)} utterances of the digit corpus")
    print(f"{len(batches)} batches of {global_batch} ({args.batch_size} per replica)")
    serve = seconds(lambda: [batches[i] for i in range(len(batches))])
    ready = [batches[i] for i in range(len(batches))]

    model = compiled(args.model, input_dim, strategy, args.precision)
    floors = [seconds(lambda: [model.train_on_batch(x, y) for x, y in ready])
              for _ in range(args.epochs)]
    floor = float(np.median(floors[1:] or floors))
    print(f"floor, train steps on ready batches: {floor:8.2f} s per epoch")
    print(f"serving one epoch of batches:        {serve:8.2f} s per epoch "
          f"({serve / floor:.3f} x the floor)")

    epoch_times = []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epoch_times.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_times.__setitem__(
            -1, epoch_times[-1] + time.perf_counter()))
    served = train_utils.as_dataset(batches, input_dim) if args.devices else batches
    model.fit(served, epochs=args.epochs, verbose=0, callbacks=[timer], shuffle=False)
    end_to_end = float(np.median(epoch_times[1:] or epoch_times))
    print(f"model.fit as train_model serves it:  {end_to_end:8.2f} s per epoch "
          f"({floor / end_to_end:.3f} of the floor's speed)")
    print("epochs timed (s), the first is warm-up: floor",
          " ".join(f"{t:.2f}" for t in floors), "| fit", " ".join(f"{t:.2f}" for t in epoch_times))


if __name__ == "__main__":
    main()
