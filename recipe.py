"""The shipped recogniser's recipe, in one place: its corpus, model, training and decoder.

``train.py``, the VUI notebook's final model and its held-out-speaker folds all
train through ``train_final_model``, and ``transcribe.py`` decodes with
``DECODER``; change a setting here and every one of them follows. How each
setting was chosen (on validation strings or held-out-speaker design folds,
over seeds) is told in the README and the appendix notebook.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("recipe")

import math

from plumbing import DATA_DIR

CORPUS = {  # digit_corpus.build_digit_corpus arguments of the default corpus
    "train_size": 1600, "valid_size": 320, "test_size": 320, "max_digits": 7, "seed": 0,
    "connected_share": 0.5, "synthetic_share": 0.5,
}
FEATURES = {"spectrogram": False, "mfcc_dim": 13}  # 13 MFCCs per 10 ms frame
MODEL = "final_model"  # a sample_models factory, built with its defaults
TRAINING = {"epochs": 20, "minibatch_size": 40, "learning_rate": 1.41e-3, "warmup_epochs": 1,
            "jit_compile": False}  # its convolutions run faster on TensorFlow's CPU kernels
DECODER = {"alpha": 0.5, "beta": 1.0, "beam_width": 25}  # beam_search.LexiconBeamSearch
RESULT_NAME = "model_end"  # results/model_end.weights.h5, .json and .pickle


def default_corpus(fsdd_dir=None, out_dir=DATA_DIR / "digits", **changes):
    """``(train_json, valid_json, test_json)`` of the default digit corpus, built if missing.

    ``changes`` override entries of ``CORPUS`` (e.g. smaller sizes for a quick run).
    """
    from digit_corpus import build_digit_corpus
    from fsdd import find_fsdd

    return build_digit_corpus(fsdd_dir or find_fsdd(), out_dir, **{**CORPUS, **changes})


def train_final_model(train_json, valid_json, name=RESULT_NAME, epochs=TRAINING["epochs"],
                      verbose=2, overwrite=False, features=FEATURES, training=TRAINING,
                      strategy=None, precision="float32"):
    """Build the final model and train it with the shipped recipe; returns it with its history.

    Args:
        train_json, valid_json: description files; ``valid_json`` picks the epoch
            kept (``None``: the last epoch is kept).
        name: results name: ``results/<name>.weights.h5``, ``.json`` and ``.pickle``.
        epochs: training epochs (the shipped 20 unless a quick run asks fewer).
        verbose: Keras's progress display (0, 1 or 2).
        overwrite: passed to ``train_model``: retrain instead of reusing a finished run.
        features, training: the recipe's ``FEATURES`` and ``TRAINING``, or variants
            of them for a study (``benchmarks/design_study.py``).
        strategy: a ``tf.distribute`` strategy over several devices (``train.py
            --devices``), or None. Each replica takes a batch of the recipe's size,
            and the learning rate grows with the square root of the replicas, the
            rule by which the recipe's batches of 40 got their rate from batches of 20.
        precision: ``'float32'`` or ``'mixed_float16'`` (``train_model``'s argument).

    Returns:
        ``(model, history)``: the trained model, holding the weights of the epoch kept.
    """
    import sample_models
    from data_generator import AudioGenerator
    from train_utils import cosine_adam, train_model

    replicas = strategy.num_replicas_in_sync if strategy else 1
    data = AudioGenerator(train_json, None, minibatch_size=training["minibatch_size"] * replicas,
                          **features)
    model = getattr(sample_models, MODEL)(input_dim=data.input_dim)
    optimizer = cosine_adam(training["learning_rate"] * math.sqrt(replicas), epochs,
                            data.steps_per_epoch, training["warmup_epochs"])
    history = train_model(model, f"{name}.pickle", f"{name}.weights.h5", train_json, valid_json,
                          minibatch_size=training["minibatch_size"], epochs=epochs,
                          verbose=verbose, jit_compile=training["jit_compile"],
                          optimizer=optimizer, overwrite=overwrite, strategy=strategy,
                          precision=precision, **features)
    return model, history
