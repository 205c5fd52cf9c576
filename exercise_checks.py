"""Self-checks for the exercise edition of the VUI notebook.

After writing a model factory in the exercise edition's ``sample_models.py`` and
building the model in the notebook, the learner runs::

    exercise_checks.check_model(model_1)

which, in a few seconds on a CPU, builds the factory again with the original
project's settings and compares the type and parameter count of every layer with
the solution's (stored below as data, not code), checks that
``model.output_length`` gives the number of frames the model really returns and
that every frame is a probability distribution, and that a few training steps
with the project's CTC loss lower the loss on a fixed batch. A failed check
raises ``CheckFailed``, whose message says in words what differs and where to
look; a passed one prints what was checked.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("exercise_checks")

import inspect
import os
from pathlib import Path

import keras
import numpy as np

import sample_models
import ctc
from char_map import NUM_CLASSES
from data_generator import pad_batch
from plumbing import PROJECT_DIR, stderr_to_devnull
from utils import text_to_int_sequence

# What the solution builds with the original project's settings (161 spectrogram
# features, as for LibriSpeech): per factory, the model's title and, per setting,
# the type and parameter count of every layer after the input. tests/test_exercises.py
# checks that the solution still builds exactly these.
REFERENCE = {
    "simple_rnn_model": ("Model 0", [
        ({"input_dim": 161}, [("GRU", 16_617), ("Activation", 0)]),
    ]),
    "rnn_model": ("Model 1", [
        ({"input_dim": 161, "units": 200, "activation": "relu"},
         [("GRU", 217_200), ("BatchNormalization", 800), ("Dense", 5_829), ("Activation", 0)]),
    ]),
    "cnn_rnn_model": ("Model 2", [
        ({"input_dim": 161, "filters": 200, "kernel_size": 11, "conv_stride": 2,
          "conv_border_mode": "valid", "units": 200},
         [("Conv1D", 354_400), ("BatchNormalization", 800), ("SimpleRNN", 80_200),
          ("BatchNormalization", 800), ("Dense", 5_829), ("Activation", 0)]),
        ({"input_dim": 13, "filters": 16, "kernel_size": 5, "conv_stride": 3,
          "conv_border_mode": "same", "units": 8},
         [("Conv1D", 1_056), ("BatchNormalization", 64), ("SimpleRNN", 200),
          ("BatchNormalization", 32), ("Dense", 261), ("Activation", 0)]),
    ]),
    "deep_rnn_model": ("Model 3", [
        ({"input_dim": 161, "units": 200, "recur_layers": 2},
         [("GRU", 217_200), ("BatchNormalization", 800), ("GRU", 240_600),
          ("BatchNormalization", 800), ("Dense", 5_829), ("Activation", 0)]),
        ({"input_dim": 161, "units": 200, "recur_layers": 1},
         [("GRU", 217_200), ("BatchNormalization", 800), ("Dense", 5_829), ("Activation", 0)]),
    ]),
    "bidirectional_rnn_model": ("Model 4", [
        ({"input_dim": 161, "units": 200},
         [("RealFrames", 0), ("Bidirectional", 434_400), ("Dense", 11_629), ("Activation", 0)]),
    ]),
    "final_model": ("The final model", []),  # a design of the learner's own
}

EXERCISED = ("rnn_model", "cnn_rnn_model", "deep_rnn_model", "bidirectional_rnn_model",
             "final_model")  # the factories the learner writes
FRAMES = 137  # input frames of the test utterances: odd, to catch rounding after a stride
TRANSCRIPTS = ["one two", "three", "four five six", "seven"]  # the fixed training batch
TRAIN_STEPS = 3


class CheckFailed(AssertionError):
    """A self-check found a difference; the message says what it is and where to look."""


def check_setup():
    """Check that the notebook's models come from the ``sample_models.py`` beside it.

    The exercise edition's ``sample_models.py`` lies in the notebook's folder, and a
    Jupyter kernel started there finds it before the solution that the project
    installs, unless a folder put before it on ``sys.path`` (``PYTHONPATH`` holding
    the project folder, say) holds the solution. Raises ``CheckFailed`` naming the
    cause when the kernel imported another ``sample_models.py``.
    """
    used, solution = Path(sample_models.__file__).resolve(), PROJECT_DIR / "sample_models.py"
    here = Path.cwd().resolve()
    if used.parent == here and used != solution:
        print("The models come from sample_models.py in this notebook's folder: the code you "
              "write there is used from the next cell you run on.")
        return
    if here == PROJECT_DIR or not (here / "sample_models.py").is_file():
        raise CheckFailed(
            f"This notebook's kernel runs in {here}, not in the exercise notebook's folder, so "
            f"it imported {used}. Start the kernel in the notebook's own folder, exercises/ "
            "(Jupyter does; in VS Code set the notebook file root to ${fileDirname}), and "
            "restart it.")
    before = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
              if entry and Path(entry).resolve() == used.parent]
    cause = (f"PYTHONPATH names {used.parent}, and Python looks there before the notebook's "
             "folder: remove it from PYTHONPATH (the project is installed, so its modules "
             "are found without it), then restart the kernel." if before else
             f"{used.parent} comes before the notebook's folder on sys.path: start Jupyter "
             "without adding it, then restart the kernel.")
    raise CheckFailed(f"This notebook imported {'the solution, ' if used == solution else ''}"
                      f"{used}, not the sample_models.py beside it in {here}. {cause}")


def check_model(model):
    """Check a model that a factory of the exercise built; print what passed.

    Builds the model's factory again with the reference settings and compares the
    layers, checks the model's output, and trains a fresh copy built with the
    model's own arguments for a few steps (``model`` itself is left as it is; the
    random generators are seeded with 0 for that copy).

    Args:
        model: the ``keras.Model`` returned by a factory of ``sample_models``
            (``model_1`` ... ``model_4``, ``model_end``), built with the
            notebook's features: input ``(batch, frames, input_dim)``, output
            ``(batch, model.output_length(frames), 29)``.

    Raises:
        CheckFailed: the first difference from the reference, in words.
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "build_args"):
        raise CheckFailed("check_model wants the model that a factory of sample_models.py "
                          f"returned (such as model_1), not {type(model).__name__}.")
    build_args = dict(model.build_args)
    name = build_args.pop("factory")
    if name not in REFERENCE:
        raise CheckFailed(f"{name} has no self-check; the checked factories are "
                          f"{', '.join(REFERENCE)}.")
    title, references = REFERENCE[name]
    factory = getattr(sample_models, name)
    passed = []
    # TensorFlow's C++ graph optimiser logs to file descriptor 2, which Jupyter shows in
    # the cell: the grader reads the check's sentences only.
    with stderr_to_devnull():
        for arguments, layers in references:
            built = _build(factory, title, arguments)
            passed.append(_check_layers(built, title, _call(factory, arguments), layers))
        if name == "final_model":
            passed.append(_check_final_design(model, factory, build_args))
        passed.append(_check_output(model, title))
        passed += _check_arguments(factory, build_args, title)
        passed.append(_check_training(factory, build_args, title))
    print(f"{title} ({name}) passes its checks:")
    for line in passed:
        print(f"- {line}")


def _call(factory, arguments):
    """``'rnn_model(input_dim=161, units=200)'``: how a model was built, for messages."""
    return f"{factory.__name__}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


def _layers(model):
    """The model's layers after its input (a Sequential model lists no input layer)."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _build(factory, title, arguments):
    try:
        return factory(**arguments)
    except Exception as error:  # the learner's code: report whatever it raised
        raise CheckFailed(f"{title}: {_call(factory, arguments)} raised "
                          f"{type(error).__name__}: {error}") from error


def _check_layers(model, title, call, reference):
    """Compare layer types, then parameters layer by layer, with ``reference``."""
    layers = _layers(model)
    kinds, wanted = [type(layer).__name__ for layer in layers], [kind for kind, _ in reference]
    if kinds != wanted:
        at = next((i for i, (a, b) in enumerate(zip(kinds, wanted)) if a != b),
                  min(len(kinds), len(wanted)))
        expected = wanted[at] if at < len(wanted) else "no layer"
        if expected == "Activation" and at == len(wanted) - 1:
            expected += ' (the softmax: layers.Activation("softmax"), as _output_layers adds)'
        raise CheckFailed(
            f"{title} built as {call} has {len(kinds)} layers after its input "
            f"({' -> '.join(kinds)}) but the reference has {len(wanted)} "
            f"({' -> '.join(wanted)}): layer {at + 1} is "
            f"{kinds[at] if at < len(kinds) else 'missing'} where the reference has "
            f"{expected}. Compare your layers with the docstring of the function.")
    for position, (layer, (kind, expected)) in enumerate(zip(layers, reference), 1):
        if layer.count_params() != expected:
            raise CheckFailed(
                f"{title} built as {call}: layer {position}, {kind} '{layer.name}', has "
                f"{layer.count_params():,} parameters where the reference has {expected:,}. "
                + _parameter_hint(layer, layer.count_params() - expected))
    features = model.input_shape[-1]
    where = (f"at the original project's {features} features per frame (LibriSpeech "
             "spectrograms; your notebook's model, built for this corpus's features, has its "
             "own count)" if features == 161 else f"at {features} features per frame")
    return (f"rebuilt {where} as {call}: {' -> '.join(kinds)}, {model.count_params():,} "
            "parameters, as the reference")


def _parameter_hint(layer, surplus):
    recurrent = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    directions = 2 if recurrent is not layer else 1
    if isinstance(recurrent, keras.layers.GRU) and surplus == 3 * recurrent.units * directions:
        return ("A GRU with Keras's default reset_after=True has 3 x units more parameters "
                "than the reference's GRU, which uses reset_after=False.")
    return ("Check the layer's size (units, filters, kernel size) and the width of what "
            "comes into it.")


def _check_final_design(model, factory, build_args):
    """The final model builds from its defaults and is not one of Models 0-4."""
    defaults = _build(factory, "The final model", {"input_dim": build_args["input_dim"]})
    different = [key for key in build_args if build_args[key] != defaults.build_args.get(key)]
    if different:
        changed = ", ".join(f"{key}={build_args[key]!r}" for key in different)
        raise CheckFailed(
            f"The final model was built with {changed}, not with final_model's defaults. "
            "The prediction cells build it again as final_model(input_dim=...), so make "
            "your choices the default values.")
    kinds = [type(layer).__name__ for layer in _layers(model)]
    for name, (title, references) in REFERENCE.items():
        if references and kinds == [kind for kind, _ in references[0][1]]:
            raise CheckFailed(
                f"The final model has the same layers as {title} ({name}): "
                f"{' -> '.join(kinds)}. Design a model of your own that builds on what "
                "worked in Models 0-4.")
    return (f"final_model(input_dim={build_args['input_dim']}) builds it from its defaults "
            f"({model.count_params():,} parameters), with layers unlike those of Models 0-4")


def _check_output(model, title):
    """The model takes ``the_input`` and returns ``output_length(FRAMES)`` distributions."""
    if not callable(getattr(model, "output_length", None)):
        raise CheckFailed(
            f"{title} has no output_length: make the model with _model(inputs, outputs, "
            "name, output_length), as Model 0 does, so that the CTC loss knows how many "
            "frames come out.")
    inputs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.InputLayer)]
    if inputs and inputs != ["the_input"]:
        raise CheckFailed(
            f"{title}'s input is named {', '.join(map(repr, inputs))}, but the training batches "
            "call it 'the_input': make it with keras.Input(shape=(None, input_dim), "
            'name="the_input"), as Model 0 does.')
    symbols = model.build_args.get("output_dim", NUM_CLASSES)
    features = np.random.default_rng(0).normal(size=(2, FRAMES, model.input_shape[-1]))
    output = keras.ops.convert_to_numpy(model(features.astype("float32"), training=False))
    frames = int(model.output_length(FRAMES))
    if output.ndim != 3 or output.shape[-1] != symbols:
        raise CheckFailed(
            f"{title} returns an output of shape {output.shape} for 2 utterances, not "
            f"(2, frames, {symbols}): every recurrent layer must return all frames "
            f"(return_sequences=True), and the last layers give {symbols} values per frame "
            "(28 characters and the CTC blank), as _output_layers(x, output_dim) does.")
    if output.shape[1] != frames:
        raise CheckFailed(
            f"{title} returns {output.shape[1]} frames for {FRAMES} input frames, but its "
            f"output_length({FRAMES}) says {frames}. The CTC loss trusts output_length: after a "
            "convolution it is cnn_output_length(frames, kernel_size, padding, stride).")
    if output.min() < 0 or not np.allclose(output.sum(axis=-1), 1, atol=1e-4):
        raise CheckFailed(
            f"{title}'s outputs are not probabilities (a frame's {symbols} values sum to "
            f"{output[0, 0].sum():.3f}, not 1): end the model with a softmax, as "
            "_output_layers does.")
    return (f"{FRAMES} input frames give {frames} output frames, as output_length says, each a "
            f"probability distribution over {symbols} symbols")


BORDER_MODES, STRIDES, ACTIVATIONS = ("same", "valid"), (1, 2, 3), ("relu", "tanh")


def _check_arguments(factory, build_args, title):
    """Every padding and stride the factory takes gives ``output_length`` frames; its
    ``activation`` argument reaches the recurrent layer. Small sizes keep it quick."""
    accepts = inspect.signature(factory).parameters
    small = {key: value for key, value in build_args.items()}
    small.update({key: 8 for key in ("units", "filters") if key in accepts})
    passed = []
    if "conv_border_mode" in accepts and "conv_stride" in accepts:
        for mode in BORDER_MODES:
            for stride in STRIDES:
                arguments = {**small, "conv_border_mode": mode, "conv_stride": stride}
                model = _build(factory, title, arguments)
                output = model(np.zeros((1, FRAMES, model.input_shape[-1]), np.float32))
                if output.shape[1] != int(model.output_length(FRAMES)):
                    raise CheckFailed(
                        f"{title} built as {_call(factory, arguments)} returns {output.shape[1]} "
                        f"frames for {FRAMES} input frames, but its output_length({FRAMES}) says "
                        f"{int(model.output_length(FRAMES))}: output_length must follow the "
                        "arguments, cnn_output_length(frames, kernel_size, conv_border_mode, "
                        "conv_stride).")
        passed.append(f"output_length is right for padding {' and '.join(BORDER_MODES)} with "
                      f"strides {', '.join(map(str, STRIDES))}")
    if "activation" in accepts:
        for activation in ACTIVATIONS:
            arguments = {**small, "activation": activation}
            model = _build(factory, title, arguments)
            used = {layer.activation.__name__ for layer in model.layers
                    if isinstance(layer, (keras.layers.GRU, keras.layers.SimpleRNN,
                                          keras.layers.LSTM))}
            if used != {activation}:
                raise CheckFailed(
                    f"{title} built as {_call(factory, arguments)} has recurrent layers with "
                    f"{', '.join(sorted(used)) or 'no'} activation, not {activation}: pass the "
                    "function's activation argument to the GRU (activation=activation).")
        passed.append(f"the activation argument reaches the recurrent layer "
                      f"({' and '.join(ACTIVATIONS)} tried)")
    return passed


def show_code():
    """Print the source of every function the learner writes, as a grader reads it.

    The exercise notebook ends with this cell, so its exported HTML holds the code
    of ``sample_models.py`` that produced the results above it.
    """
    print(f"The functions you wrote, from {Path(sample_models.__file__).name}:")
    for name in EXERCISED:
        print(f"\n# ---------------------------------------------------------- {name}\n")
        try:
            print(inspect.getsource(getattr(sample_models, name)).rstrip())
        except (AttributeError, OSError, TypeError) as error:
            print(f"(not found: {error})")


def _check_training(factory, build_args, title):
    """A few Adam steps with the CTC loss on a fixed batch must lower the loss."""
    keras.utils.set_random_seed(0)
    model = _build(factory, title, build_args)
    trainable = ctc.add_ctc_loss(model)
    trainable.compile(loss={"ctc": ctc.ctc_output_loss},
                      optimizer=keras.optimizers.Adam(1e-3, clipnorm=5.0), jit_compile=False)
    rng = np.random.default_rng(0)
    frames = [FRAMES - 20 * i for i in range(len(TRANSCRIPTS))]
    inputs = {
        "the_input": pad_batch([rng.normal(size=(n, build_args["input_dim"])).astype("float32")
                                for n in frames], pad_to=1),
        "the_labels": pad_batch([np.array(text_to_int_sequence(text), np.int32)
                                 for text in TRANSCRIPTS], pad_to=1),
        "input_length": np.array(frames, np.int32)[:, None],
        "label_length": np.array([len(text) for text in TRANSCRIPTS], np.int32)[:, None],
    }
    targets = np.zeros(len(TRANSCRIPTS), np.float32)
    try:
        losses = [float(trainable.train_on_batch(inputs, targets))
                  for _ in range(TRAIN_STEPS + 1)]
    except Exception as error:  # e.g. Keras finding no gradient to apply
        raise CheckFailed(
            f"{title} could not be trained with the CTC loss on a fixed batch "
            f"({type(error).__name__}: {error}). Check that every layer is connected to the "
            "output and that nothing stops gradients.") from error
    if not np.isfinite(losses).all():
        raise CheckFailed(
            f"{title}'s CTC loss is not a number in training "
            f"({', '.join(f'{loss:.1f}' for loss in losses)}): "
            "outputs that are exactly 0, or activations that grow without bound (a relu "
            "recurrence without batch normalisation), break it.")
    if losses[-1] >= losses[0]:
        raise CheckFailed(
            f"{title}'s CTC loss did not fall in {TRAIN_STEPS} training steps on a fixed batch "
            f"(from {losses[0]:.1f} to {losses[-1]:.1f}). Check that every layer is connected "
            "to the output, so that all weights are trained, and that nothing stops gradients.")
    return (f"the CTC loss on a fixed batch of {len(TRANSCRIPTS)} utterances fell from "
            f"{losses[0]:.1f} to {losses[-1]:.1f} in {TRAIN_STEPS} training steps")
