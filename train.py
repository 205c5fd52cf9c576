"""Train the shipped recogniser: the final model, with the recipe of recipe.py (a command).

    python train.py [--epochs N] [--out results/model_end.weights.h5] [--devices all|N]
                    [--precision float32|mixed_float16]

Builds the default digit corpus if it is missing (FSDD from ``$FSDD_DIR``, an
earlier download, or a download), then trains the final model with the shipped
recipe, showing every epoch, and writes its weights, its record (``.json``) and
its history (``.pickle``) where ``--out`` says: what ``python transcribe.py``
uses by default. Run again, it reuses a finished run and goes on from an
interrupted one, as the notebook's training cells do; a run with other settings
in the same files is refused, never overwritten. ``--devices`` trains on the
machine's GPUs (all, or the first N) with ``tf.distribute.MirroredStrategy``: one
batch of the recipe's size per GPU and the learning rate raised with the square
root of their number; ``--precision mixed_float16`` trains in Keras's mixed precision
(faster on GPUs with tensor cores: measure it with ``benchmarks/speed.py``). Bad
arguments exit with status 2.
"""

import os
import sys
from pathlib import Path

from plumbing import CommandParser, positive_int, stderr_to_devnull

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    """Command-line entry point (see the module docstring); returns the exit status."""
    import recipe

    parser = CommandParser(prog="train.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=positive_int, default=recipe.TRAINING["epochs"],
                        metavar="N", help=f"epochs (default {recipe.TRAINING['epochs']})")
    parser.add_argument("--out", type=Path, metavar="FILE.weights.h5",
                        default=Path("results") / f"{recipe.RESULT_NAME}.weights.h5",
                        help="weights file; the record and history are written beside it")
    parser.add_argument("--devices", metavar="all|N", type=_devices,
                        help="train on all the GPUs, or on the first N, in parallel")
    parser.add_argument("--precision", choices=("float32", "mixed_float16"), default="float32",
                        help="mixed_float16: float16 computations (GPUs), default float32")
    args = parser.parse_args(argv)
    if not args.out.name.endswith(".weights.h5") or args.out.name == ".weights.h5":
        parser.error(f"argument --out: {args.out} must be a file name ending in .weights.h5")
    name = str(args.out.resolve())[:-len(".weights.h5")]
    try:
        with stderr_to_devnull():  # TensorFlow's C++ start-up log
            import keras

            keras.utils.set_random_seed(0)
        strategy = gpu_strategy(args.devices) if args.devices else None
        train_json, valid_json, test_json = recipe.default_corpus()
        model, history = recipe.train_final_model(train_json, valid_json, name, args.epochs,
                                                  strategy=strategy, precision=args.precision)
    except (OSError, ValueError) as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train.py: interrupted; the finished epochs are kept: run the same command "
              "again to go on from them.", file=sys.stderr)
        return 130
    print(f"train.py: the final model is in {args.out}; transcribe with "
          f"`python transcribe.py FILE_OR_DIR` (the test strings: {test_json.parent / 'test'})")
    return 0


def _devices(text):
    """An argparse type: ``'all'`` or a whole number of GPUs, at least 1."""
    return text if text == "all" else positive_int(text)


def gpu_strategy(devices):
    """``tf.distribute.MirroredStrategy`` over all the visible GPUs or the first ``devices``.

    Raises:
        ValueError: fewer GPUs are visible than asked for (none, on a CPU-only machine).
    """
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    wanted = len(gpus) if devices == "all" else devices
    if not gpus or wanted > len(gpus):
        raise ValueError(f"--devices {devices}: TensorFlow sees {len(gpus)} GPU(s) on this "
                         "machine. Train without --devices on a CPU, or install TensorFlow's "
                         "GPU build (pip install tensorflow[and-cuda]) where a GPU is.")
    return tf.distribute.MirroredStrategy(gpus[:wanted])


if __name__ == "__main__":
    sys.exit(main())
