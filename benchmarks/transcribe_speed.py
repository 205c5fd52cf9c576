"""Real-time factor of transcribe.py on this machine; prints figures, asserts nothing.

    python benchmarks/transcribe_speed.py [--model results/model_end.weights.h5]
                                          [--files data/digits/test] [--count 100]

Times each stage of transcribing ``--count`` files (the first ones of ``--files``
by name), as transcribe.py runs them in batches: reading and featurising the
audio, the model on padded batches (the floor: nothing but the network), greedy
decoding and the lexicon beam search with the language model ("lexicon + LM",
transcribe.py's default). The real-time factor is seconds of work per second of
audio (0.02: a minute of audio in 1.2 s).
"""

import os
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from plumbing import CommandParser, positive_int, stderr_to_devnull  # noqa: E402

with stderr_to_devnull():  # TensorFlow's C++ start-up log
    import soundfile  # noqa: E402

    import decoding  # noqa: E402
    import trained_models  # noqa: E402
    import transcribe  # noqa: E402
    from data_generator import Featurizer, normalize  # noqa: E402


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main():
    parser = CommandParser(prog="benchmarks/transcribe_speed.py",
                           description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="results/model_end.weights.h5")
    parser.add_argument("--files", default="data/digits/test")
    parser.add_argument("--count", type=positive_int, default=100, help="files timed")
    args = parser.parse_args()
    try:
        files = transcribe.audio_files([args.files])[:args.count]
        if not files:
            raise FileNotFoundError(f"no audio files in {args.files}")
        transcribe.check_model_path(args.model)
        with stderr_to_devnull():
            model = trained_models.load_trained_model(Path(args.model).resolve())
    except (OSError, ValueError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    audio_seconds = sum(soundfile.info(path).duration for path in files)
    record = model.record
    print(f"{len(files)} files, {audio_seconds:.1f} s of audio; model {record['model']} "
          f"({record['params']:,} parameters), {os.cpu_count()} CPU cores")

    featurizer = Featurizer(**record["features"])
    features, featurize_s = timed(lambda: [normalize(featurizer(p)) for p in files])
    _, trace_s = timed(decoding.predict_texts, model, features[:2])  # traces the model
    no_decoding = lambda probabilities, lengths: [""] * len(lengths)  # noqa: E731
    _, model_s = timed(decoding.predict_texts, model, features, decode=no_decoding)
    decoders, lm_s = timed(decoding.decoders, record)  # transcribe.py's: "lexicon + LM"
    stages = {"featurise": featurize_s, "model (floor)": model_s}
    for name in ("greedy", "lexicon + LM"):
        _, seconds = timed(decoding.predict_texts, model, features, decode=decoders[name])
        stages[f"model + {name} decoding"] = seconds
    print(f"once per run: tracing the model {trace_s:.2f} s, language model from the "
          f"training transcripts {lm_s:.2f} s")
    for name, seconds in stages.items():
        print(f"{name:>28}: {seconds:6.2f} s  real-time factor {seconds / audio_seconds:.4f}")
    for name in ("greedy", "lexicon + LM"):
        total = featurize_s + stages[f"model + {name} decoding"]
        print(f"{'total, ' + name:>28}: {total:6.2f} s  real-time factor "
              f"{total / audio_seconds:.4f}  ({total / model_s:.2f}x the model floor)")


if __name__ == "__main__":
    main()
