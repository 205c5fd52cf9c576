"""What each speaker-robustness change does on held-out voices; prints a table, asserts nothing.

    python benchmarks/unseen_speaker_ablation.py [--speakers nicolas george] [--epochs 8]
        [--mfcc] [--batch 20] [--learning-rate 1e-3] [--seeds 0 1] [--variants NAME ...]

Trains the final model once per variant, seed and ``--speakers`` fold (the five
other FSDD speakers' digit strings, ``unseen_speakers.fold_corpus``) and scores
it on the held-out speaker's strings and on the other speakers' validation
strings of the default corpus (in-speaker), greedy and with beam search + LM.
These are the design folds: the notebook's leave-one-speaker-out table reports
all six speakers with the shipped design. Variants, each of the first four
adding to the one before:

- ``corpus norm``: features normalised with the training set's mean and std,
  and the final model without padding masks (the project before this study);
- ``utterance norm``: each utterance normalised with its own statistics (shipped);
- ``+ masks``: padding masked (shipped: the final model as it is);
- ``+ warp, SpecAugment``: training-time VTLP-like frequency warping (+/-20%) and
  one frequency band (up to 15 bins) and one time band (up to 10 frames) zeroed.

Six more each change one thing of ``+ masks``. Two rebuild the fold's training strings:

- ``+ speed perturbation``: every training string resampled as if played 0.85 to
  1.15 times as fast (tempo, pitch and formants move together, as for a shorter
  or longer vocal tract);
- ``+ speakers mixed``: each digit of a training string spoken by any of the
  five speakers, not one speaker per string.

Four change the model or its features:

- ``+ dropout 0.4``: dropout 0.4 after each recurrent layer (0.2 shipped);
- ``+ GRU units 64``: 64 units each way in each GRU layer (128 shipped);
- ``+ one GRU layer``: one bidirectional GRU layer (two shipped);
- ``+ speaker norm``: each utterance normalised with the mean and standard deviation of
  all the utterances of its speaker in the same corpus (the training speakers' own in
  training, the held-out speaker's strings when scoring), not with its own.

The notebook's final model is ``--mfcc --batch 40 --learning-rate 1.41e-3``. One seed per
fold is not enough to rank changes: the same design's held-out WER can differ by several
points between two seeds, so compare means over ``--seeds``.
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
import fsdd  # noqa: E402
import plumbing  # noqa: E402
import unseen_speakers  # noqa: E402

PER_UTTERANCE = data_generator.normalize  # the library's own, before any job replaces it
CORPUS_FEATURES = data_generator.Featurizer.corpus_features  # likewise

VARIANTS = ("corpus norm", "utterance norm", "+ masks", "+ warp, SpecAugment",
            "+ speed perturbation", "+ speakers mixed", "+ dropout 0.4", "+ GRU units 64",
            "+ one GRU layer", "+ speaker norm")
MODEL_VARIANTS = {"+ dropout 0.4": {"dropout": 0.4}, "+ GRU units 64": {"units": 64},
                  "+ one GRU layer": {"recur_layers": 1}}  # final_model arguments
SPEED_RANGE = (0.85, 1.15)


def _speed_perturbed(synthesize):
    """``synthesize`` (``prepare_data._synthesize_utterance``), its strings played faster or slower."""
    import librosa

    def perturbed(rng, clips, max_digits, speakers):
        samples, digits, names = synthesize(rng, clips, max_digits, speakers)
        speed = rng.uniform(*SPEED_RANGE)  # 8 kHz samples heard as 8 kHz * speed
        samples = librosa.resample(samples, orig_sr=8000 * speed, target_sr=8000)
        return np.clip(samples, -1, 1).astype(np.float32), digits, names
    return perturbed


class _MixedSpeakers(dict):
    """FSDD clips by ``(speaker, digit)``; a look-up gives that digit's takes by all ``speakers``.

    The clips of a split hold every FSDD speaker, the held-out one too: only the
    fold's own ``speakers`` may be mixed in.
    """

    def __init__(self, clips, speakers):
        super().__init__(clips)
        self.speakers = set(speakers)

    def __getitem__(self, key):
        return [take for (speaker, digit), takes in self.items()
                if digit == key[1] and speaker in self.speakers for take in takes]


def _mixed_speakers(synthesize):
    """``synthesize``, each digit a take of any of the string's allowed speakers."""
    def mixed(rng, clips, max_digits, speakers):
        return synthesize(rng, _MixedSpeakers(clips, speakers), max_digits, speakers)
    return mixed


CORPUS_VARIANTS = {"+ speed perturbation": _speed_perturbed, "+ speakers mixed": _mixed_speakers}


def _speaker_of_files(description_files):
    """``{audio path: FSDD speaker}`` of digit-corpus description files (from their ``sources``)."""
    speakers = {}
    for path in description_files:
        for line in Path(path).read_text().splitlines():
            entry = json.loads(line)
            speaker = fsdd.parse_fsdd_name(entry["sources"][0])[1]
            speakers[str(Path(path).parent / entry["key"])] = speaker
    return speakers


def _speaker_normalized(speaker_of):
    """``Featurizer.corpus_features`` normalising each file with its speaker's statistics.

    The statistics are those of all the files of that speaker in the same call
    (one corpus), so a held-out voice is normalised with its own strings only.
    """
    def corpus_features(self, audio_paths):
        features = CORPUS_FEATURES(self, audio_paths)
        by_speaker = {}
        for index, path in enumerate(audio_paths):
            by_speaker.setdefault(speaker_of[str(path)], []).append(index)
        normalized = list(features)
        for indices in by_speaker.values():
            frames = np.concatenate([features[i] for i in indices])
            mean, std = frames.mean(axis=0), frames.std(axis=0) + 1e-3
            for i in indices:
                normalized[i] = ((features[i] - mean) / std).astype(np.float32)
        return normalized
    return corpus_features


def _slug(variant):
    return variant.replace(" ", "_").replace(",", "").replace("+", "plus")


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

    model = sample_models.final_model(input_dim, **MODEL_VARIANTS.get(variant, {}))
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


def _run(variant, speaker, epochs, mfcc, batch, learning_rate, seed, folders):
    plumbing.RESULTS_DIR, plumbing.CACHE_DIR = folders
    import data_generator
    import decoding
    import prepare_data
    from train_utils import cosine_adam, train_model

    import keras

    keras.utils.set_random_seed(seed)
    corpus = unseen_speakers.fold_corpus(speaker)
    if variant in CORPUS_VARIANTS:  # training strings made another way, in a folder of their own
        synthesize, data_dir = prepare_data._synthesize_utterance, plumbing.DATA_DIR
        prepare_data._synthesize_utterance = CORPUS_VARIANTS[variant](synthesize)
        plumbing.DATA_DIR = data_dir / f"ablation-{_slug(variant)}"
        # its held-out strings are not used: every variant is scored on the same ones
        corpus = unseen_speakers.fold_corpus(speaker)[0], corpus[1]
        prepare_data._synthesize_utterance, plumbing.DATA_DIR = synthesize, data_dir
    features = "_mfcc" if mfcc else ""
    name = f"ablation/{_slug(variant)}{features}_b{batch}_e{epochs}_s{seed}_{speaker}"
    default_valid = data_generator.DIGITS_VALID_JSON
    in_speaker = plumbing.RESULTS_DIR / f"{name}.in_speaker.json"
    in_speaker.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.loads(line) for line in default_valid.read_text().splitlines()]
    in_speaker.write_text("".join(
        json.dumps({**line, "key": str(default_valid.parent / line["key"])}) + "\n"
        for line in lines if not any(f"_{speaker}_" in source for source in line["sources"])))
    # A worker runs several jobs: every job sets the normalisation it needs.
    normalize, data_generator.Featurizer.corpus_features = PER_UTTERANCE, CORPUS_FEATURES
    if variant == "corpus norm":  # the statistics of the fold's training set, for every corpus
        raw = data_generator.Featurizer(8000, spectrogram=not mfcc).corpus_features(
            [u["key"] for u in data_generator.load_description_file(corpus[0])])
        mean, std = np.concatenate(raw).mean(axis=0), np.concatenate(raw).std(axis=0)
        normalize = lambda features: ((features - mean) / (std + 1e-14)).astype(np.float32)  # noqa: E731
    elif variant == "+ speaker norm":
        normalize = lambda features: features  # noqa: E731  (done per speaker below)
        data_generator.Featurizer.corpus_features = _speaker_normalized(
            _speaker_of_files([*corpus, in_speaker]))
    data_generator.normalize = decoding.normalize = normalize
    data = data_generator.AudioGenerator(corpus[0], None, spectrogram=not mfcc,
                                         minibatch_size=batch)
    model = _augmented_final_model(data.input_dim, variant)
    train_model(model, f"{name}.pickle", f"{name}.weights.h5", corpus[0], None, epochs=epochs,
                spectrogram=not mfcc, minibatch_size=batch, verbose=0,
                optimizer=cosine_adam(learning_rate, epochs, data.steps_per_epoch),
                jit_compile=False)
    row = {"variant": variant, "seed": seed, "speaker": speaker}
    for label, desc in (("held-out", corpus[1]), ("in-speaker", in_speaker)):
        scores = decoding.error_rates(model, desc)
        row[f"{label} WER % greedy"] = scores.loc["greedy", "WER %"]
        row[f"{label} WER % beam + LM"] = scores.loc["beam + LM", "WER %"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", nargs="+", default=["nicolas", "george"])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--mfcc", action="store_true", help="MFCC features (default: spectrogram)")
    parser.add_argument("--batch", type=int, default=20, help="utterances per training step")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="train every variant and fold once per seed")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS)
    args = parser.parse_args()
    folders = (plumbing.RESULTS_DIR, plumbing.CACHE_DIR)
    jobs = [(variant, speaker, args.epochs, args.mfcc, args.batch, args.learning_rate, seed,
             folders) for variant in args.variants for seed in args.seeds for speaker in args.speakers]
    features = "MFCC" if args.mfcc else "spectrogram"
    print(f"machine: {plumbing.machine_description()}; {len(jobs)} runs of {args.epochs} epochs, "
          f"{features}, batches of {args.batch}, learning rate {args.learning_rate}")
    rows = plumbing.run_in_workers(_run, jobs, desc="ablation")
    table = pd.DataFrame(rows).set_index(["variant", "seed", "speaker"])
    print(table.round(2).to_string())
    print("\nmean over the folds, per seed:")
    print(table.groupby(level=["variant", "seed"], sort=False).mean().round(2).to_string())
    print(f"\nmean over the folds and seeds {args.seeds}:")
    print(table.groupby(level="variant", sort=False).mean().round(2).to_string())


if __name__ == "__main__":
    main()
