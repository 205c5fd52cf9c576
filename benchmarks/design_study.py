"""Which corpus and features make the final model best on voices it never heard; asserts nothing.

    python benchmarks/design_study.py [--variants NAME ...] [--seeds 0 1] [--epochs 10]
                                      [--speakers george nicolas]

Trains the final model with variants of the shipped recipe (``recipe.py``), once
per seed and design fold (the digit
strings of the five other FSDD speakers, ``unseen_speakers.fold_corpus``), two
folds at a time, and scores every run on the held-out speaker's strings, paused
and connected, greedy and with the lexicon beam search and language model. The
test takes of the default corpus are never used. Rows go to
``results/design_study.csv`` (one per variant, seed and fold; runs already there
are kept, so the study can be extended); the appendix notebook plots them. A
summary per variant, the mean over folds and seeds with each seed's mean, is printed.

The study's baseline, ``recorded voices``, is the recipe without synthetic voices:
every training string recorded by FSDD's speakers. Each other variant changes one
setting of it (the baseline's value in brackets):

- ``synthetic voices``: half the training strings said by the 72 synthetic voices of
  ``tts_voices`` (flite and festival; none). This is the shipped recipe: adopted
  because it lowered the WER on the design folds and then on the untouched folds
  (``--speakers jackson lucas theo yweweler``), the test of an adopted choice;
- ``paused only``: no connected training strings (half);
- ``connected 0.75``: that share of connected training strings;
- ``spectrogram``: 81-bin spectrograms instead of 13 MFCCs.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402

import plumbing  # noqa: E402
import recipe  # noqa: E402
from appendix import design_summary  # noqa: E402
from digit_corpus import EVALUATION_STYLE  # noqa: E402
from plumbing import CommandParser, atomic_path, positive_int  # noqa: E402
from fsdd import FSDD_SPEAKERS  # noqa: E402
from unseen_speakers import DESIGN_SPEAKERS, leave_one_speaker_out  # noqa: E402

RECORDED = {"synthetic_share": 0.0}  # the baseline's corpus: recorded voices only
VARIANTS = {  # name: what it changes of the recipe (corpus, features or training)
    "recorded voices": {"corpus": RECORDED},
    "synthetic voices": {"corpus": {"synthetic_share": 0.5}},
    "paused only": {"corpus": {**RECORDED, "connected_share": 0.0}},
    "connected 0.75": {"corpus": {**RECORDED, "connected_share": 0.75}},
    "spectrogram": {"corpus": RECORDED, "features": {"spectrogram": True, "mfcc_dim": 13}},
}
RESULTS_CSV = plumbing.RESULTS_DIR / "design_study.csv"


def main():
    parser = CommandParser(prog="design_study.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        metavar="NAME")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=positive_int, default=10)
    parser.add_argument("--speakers", nargs="+", default=list(DESIGN_SPEAKERS),
                        choices=FSDD_SPEAKERS, help="the design folds (default); the untouched "
                        "folds only to confirm a choice made on them")
    args = parser.parse_args()
    done = pd.read_csv(RESULTS_CSV) if RESULTS_CSV.is_file() else pd.DataFrame(
        columns=["variant", "seed", "epochs", "speaker"])
    print(f"connected test strings of every fold: {EVALUATION_STYLE}")
    for variant in args.variants:
        changes = VARIANTS[variant]
        features = changes.get("features", recipe.FEATURES)
        training = {**recipe.TRAINING, **changes.get("training", {})}
        for seed in args.seeds:
            same = ((done["variant"] == variant) & (done["seed"] == seed)
                    & (done["epochs"] == args.epochs) & done["speaker"].isin(args.speakers))
            if same.sum() == len(args.speakers):
                continue  # measured before: the CSV keeps it
            table = leave_one_speaker_out(args.speakers, args.epochs, seed,
                                          f"study/{variant.replace(' ', '_')}/seed{seed}_",
                                          changes.get("corpus"), features, training)
            rows = table.loc[list(args.speakers)].reset_index().assign(
                variant=variant, seed=seed, epochs=args.epochs)
            done = pd.concat([done[~same], rows], ignore_index=True)
            with atomic_path(RESULTS_CSV) as partial:
                done.to_csv(partial, index=False, float_format="%.4f")
    chosen = done[done["variant"].isin(args.variants) & (done["epochs"] == args.epochs)
                  & done["speaker"].isin(args.speakers)]
    print(design_summary(chosen).to_string())


if __name__ == "__main__":
    main()
