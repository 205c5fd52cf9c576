"""What each speaker-robustness change does on held-out voices; prints a table, asserts nothing.

    python benchmarks/unseen_speaker_ablation.py [--speakers nicolas george] [--epochs 8]

Trains the final model once per variant on every ``--speakers`` fold (the five
other FSDD speakers' digit strings, ``unseen_speakers.fold_corpus``) and scores
it on the held-out speaker's strings and on the other speakers' validation
strings of the default corpus (in-speaker), greedy and with beam search + LM.
These are the design folds: the notebook's leave-one-speaker-out table reports
all six speakers with the shipped design. Variants, each adding to the last:

- ``corpus norm``: features normalised with the training set's mean and std,
  and the final model without padding masks (the project before this study);
- ``utterance norm``: each utterance normalised with its own statistics (shipped);
- ``+ masks``: padding masked (shipped: the final model as it is);
- ``+ warp, SpecAugment``: training-time VTLP-like frequency warping (+/-20%) and
  one frequency band (up to 15 bins) and one time band (up to 10 frames) zeroed.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import data_generator  # noqa: E402
import plumbing  # noqa: E402
import unseen_speakers  # noqa: E402

PER_UTTERANCE = data_generator.normalize  # the library's own, before any job replaces it

VARIANTS = ("corpus norm", "utterance norm", "+ masks", "+ warp, SpecAugment")


def _augmented_final_model(input_dim, variant):
    """The final model as shipped, without its masks, or with an augmentation layer in front."""
    import keras
    from keras import layers, ops

    import sample_models

    class Augment(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.generator = keras.random.SeedGenerator(0)

        def call(self, x, training=None):
            if not training:
                return x
            batch, frames, dims = ops.shape(x)[0], ops.shape(x)[1], x.shape[2]
            alpha = keras.random.uniform((batch, 1), 0.8, 1.2, seed=self.generator)
            position = ops.clip(ops.arange(dims, dtype="float32")[None, :] / alpha, 0, dims - 1)
            left = ops.cast(ops.floor(position), "int32")
            right = ops.minimum(left + 1, dims - 1)
            weight = (position - ops.cast(left, "float32"))[:, None, :]
            shape = (batch, frames, dims)
            x = (ops.take_along_axis(x, ops.broadcast_to(left[:, None, :], shape), axis=2)
                 * (1 - weight)
                 + ops.take_along_axis(x, ops.broadcast_to(right[:, None, :], shape), axis=2)
                 * weight)
            band = sample_models.random_band_mask
            return (x * band(self.generator, batch, dims, 15)[:, None, :]
                    * band(self.generator, batch, frames, 10)[:, :, None])

    model = sample_models.final_model(input_dim)
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = Augment()(inputs) if variant == "+ warp, SpecAugment" else inputs
    for layer in model.layers[1:]:
        if isinstance(layer, sample_models.PaddingMask):
            if variant in ("corpus norm", "utterance norm"):
                continue  # no masks: padding reaches the GRUs
            x = layer([x, inputs])
        else:
            x = layer(x)
    variant_model = keras.Model(inputs, x, name="final_model")
    variant_model.output_length, variant_model.build_args = model.output_length, model.build_args
    return variant_model


def _run(variant, speaker, epochs, folders):
    plumbing.RESULTS_DIR, plumbing.CACHE_DIR = folders
    import data_generator
    import decoding
    from train_utils import cosine_adam, train_model

    import keras

    keras.utils.set_random_seed(0)
    corpus = unseen_speakers.fold_corpus(speaker)
    # A worker runs several jobs: every job sets the normalisation it needs.
    normalize = PER_UTTERANCE
    if variant == "corpus norm":  # the statistics of the fold's training set, for every corpus
        raw = data_generator.Featurizer(8000).corpus_features(
            [u["key"] for u in data_generator.load_description_file(corpus[0])])
        mean, std = np.concatenate(raw).mean(axis=0), np.concatenate(raw).std(axis=0)
        normalize = lambda features: ((features - mean) / (std + 1e-14)).astype(np.float32)  # noqa: E731
    data_generator.normalize = decoding.normalize = normalize
    data = data_generator.AudioGenerator(corpus[0], None)
    model = _augmented_final_model(data.input_dim, variant)
    name = f"ablation/{variant.replace(' ', '_').replace(',', '').replace('+', 'plus')}_{speaker}"
    train_model(model, f"{name}.pickle", f"{name}.weights.h5", corpus[0], None, epochs=epochs,
                verbose=0, optimizer=cosine_adam(1e-3, epochs, data.steps_per_epoch),
                jit_compile=False)
    in_speaker = plumbing.RESULTS_DIR / f"{name}.in_speaker.json"
    default_valid = data_generator.DIGITS_VALID_JSON
    lines = [json.loads(line) for line in default_valid.read_text().splitlines()]
    in_speaker.write_text("".join(
        json.dumps({**line, "key": str(default_valid.parent / line["key"])}) + "\n"
        for line in lines if not any(f"_{speaker}_" in source for source in line["sources"])))
    row = {"variant": variant, "speaker": speaker}
    for label, desc in (("held-out", corpus[1]), ("in-speaker", in_speaker)):
        scores = decoding.error_rates(model, desc)
        row[f"{label} WER % greedy"] = scores.loc["greedy", "WER %"]
        row[f"{label} WER % beam + LM"] = scores.loc["beam + LM", "WER %"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", nargs="+", default=["nicolas", "george"])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    folders = (plumbing.RESULTS_DIR, plumbing.CACHE_DIR)
    jobs = [(variant, speaker, args.epochs, folders)
            for variant in VARIANTS for speaker in args.speakers]
    print(f"machine: {plumbing.machine_description()}; {len(jobs)} runs of {args.epochs} epochs")
    rows = plumbing.run_in_workers(_run, jobs, desc="ablation")
    table = pd.DataFrame(rows).set_index(["variant", "speaker"])
    mean = table.groupby(level="variant", sort=False).mean()
    print(table.round(2).to_string())
    print("\nmean over the folds:")
    print(mean.round(2).to_string())


if __name__ == "__main__":
    main()
