"""The digit track's studies behind the notebook's choices; writes CSVs, asserts nothing.

    python benchmarks/digit_study.py settings [--seeds 0 1]
    python benchmarks/digit_study.py unseen [--seeds 0 1] [--epochs 10]
    python benchmarks/digit_study.py precision [--repeats 3] [--epochs 4]

``settings``: our CNN and RNN at each learning rate and number of epochs of a small
grid, trained on FSDD's training takes 10-49 and scored on takes 5-9 (the
validation takes; the official test takes 0-4 are never read), once per seed.
Rows go to ``results/digit_settings.csv``; the notebook's ``OUR_LEARNING_RATE`` and
``OUR_EPOCHS`` are the settings with the best mean validation accuracy, the fewer
epochs where two are within the seeds' spread.

``unseen``: leave one speaker out over seeds for our models on four kinds of
image, so that each change is seen apart: the essay's images; trimmed to the
spoken digit on a mel scale; normalised per speaker; both. Rows (one per model,
images, seed and held-out speaker) go to ``results/digit_unseen_ablation.csv``.

``precision``: seconds per epoch of the essay's two networks in float32 and in
mixed bfloat16, each repeated and timed alone; ``results/digit_precision.csv``.
bfloat16 is timed only where the CPU has bfloat16 instructions.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

import digit_experiments  # noqa: E402
import digit_images  # noqa: E402
import plumbing  # noqa: E402
import sample_models  # noqa: E402
from fsdd import find_fsdd  # noqa: E402
from plumbing import CommandParser, atomic_path, positive_int  # noqa: E402

OURS = {"our CNN": sample_models.digit_cnn, "our RNN": sample_models.time_rnn}
ESSAY = {"essay CNN": sample_models.essay_cnn, "essay RNN": sample_models.essay_rnn}
LEARNING_RATES = (1e-3, 3e-3)
EPOCHS = {"our CNN": (10, 15, 20), "our RNN": (15, 20, 30)}
IMAGES = {  # name: (load_digit_images arguments, normalised per speaker)
    "essay images": ({}, False), "trimmed mel": ({"mel": True, "trim_db": 30}, False),
    "per-speaker norm": ({}, True),
    "trimmed mel + per-speaker norm": ({"mel": True, "trim_db": 30}, True)}
UNSEEN_MODELS = {"our CNN": tuple(IMAGES), "our RNN": ("essay images",
                                                       "trimmed mel + per-speaker norm")}


def _write(rows, name):
    path = plumbing.RESULTS_DIR / name
    with atomic_path(path) as partial:
        pd.DataFrame(rows).to_csv(partial, index=False, float_format="%.4f")
    print(f"wrote {plumbing.project_path(path)} ({len(rows)} rows)")
    return pd.DataFrame(rows)


def _settings_run(label, train, valid, epochs, learning_rate, seed):
    factory = OURS[label]
    _, run = digit_experiments.fit_digit_model(factory, train, valid, epochs, seed,
                                               learning_rate=learning_rate, cosine=True)
    return {"model": label, "learning_rate": learning_rate, "epochs": epochs, "seed": seed,
            "validation accuracy %": 100 * run["test_accuracy"][-1],
            "train s": digit_experiments.training_seconds(run)}


def settings(seeds):
    train, _ = digit_images.official_split(digit_images.load_digit_images(find_fsdd()))
    train, valid = digit_images.validation_split(train)
    jobs = [(label, train, valid, epochs, rate, seed) for label in OURS
            for rate in LEARNING_RATES for epochs in EPOCHS[label] for seed in seeds]
    rows = plumbing.run_in_workers(_settings_run, jobs, desc="settings", unit="run")
    table = _write(rows, "digit_settings.csv")
    print(table.groupby(["model", "learning_rate", "epochs"])["validation accuracy %"]
          .agg(["mean", "std"]).round(2).to_string())


def unseen(seeds, epochs):
    fsdd = find_fsdd()
    rows = []
    for image_name, (image_args, per_speaker) in IMAGES.items():
        images = digit_images.load_digit_images(fsdd, **image_args)
        if per_speaker:
            images = digit_images.normalize_speakers(images)
        for label, factory in OURS.items():
            if image_name not in UNSEEN_MODELS[label]:
                continue
            runs = digit_experiments.leave_one_speaker_out(
                factory, images, epochs, seeds=seeds, learning_rate=3e-3, cosine=True)
            rows += [{"model": label, "images": image_name, "seed": run["seed"],
                      "speaker": run["held_out"], "epochs": epochs,
                      "accuracy %": 100 * run["test_accuracy"][-1],
                      "diverged": digit_experiments.divergence(run) is not None}
                     for run in runs]
    table = _write(rows, "digit_unseen_ablation.csv")
    per_seed = table.groupby(["model", "images", "seed"])["accuracy %"].mean()
    print(per_seed.groupby(["model", "images"]).agg(["mean", "std"]).round(2).to_string())


def precision(repeats, epochs):
    train, test = digit_images.official_split(digit_images.load_digit_images(find_fsdd()))
    precisions = ["float32"] + (["mixed_bfloat16"] if digit_experiments.native_bfloat16() else [])
    rows = []
    for label, factory in ESSAY.items():
        for policy in precisions:
            for repeat in range(repeats):
                run = digit_experiments.fit_digit_model(factory, train, test, epochs, repeat,
                                                        precision=policy)[1]
                rows += [{"model": label, "precision": policy, "repeat": repeat,
                          "epoch": epoch + 1, "seconds": seconds}
                         for epoch, seconds in enumerate(run["seconds"])]
    table = _write(rows, "digit_precision.csv")
    later = table[table["epoch"] > 1]
    print(later.groupby(["model", "precision"])["seconds"].agg(["median", "min", "max"])
          .round(2).to_string())


def main():
    parser = CommandParser(prog="digit_study.py", description=__doc__.split("\n\n")[0])
    studies = parser.add_subparsers(dest="study", required=True, parser_class=CommandParser)
    for name in ("settings", "unseen"):
        study = studies.add_parser(name)
        study.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    studies.choices["unseen"].add_argument("--epochs", type=positive_int, default=10)
    timing = studies.add_parser("precision")
    timing.add_argument("--repeats", type=positive_int, default=3)
    timing.add_argument("--epochs", type=positive_int, default=4)
    args = parser.parse_args()
    print(f"machine: {plumbing.machine_description()}")
    if args.study == "settings":
        settings(args.seeds)
    elif args.study == "unseen":
        unseen(args.seeds, args.epochs)
    else:
        precision(args.repeats, args.epochs)


if __name__ == "__main__":
    main()
