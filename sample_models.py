"""Keras acoustic models of the VUI track and classifiers of the digit track.

Every VUI model maps features ``(batch, frames, input_dim)`` to per-frame
character probabilities ``(batch, output_length(frames), 29)`` and carries
``model.output_length``, a function from input frames to output frames used by
the CTC loss. GRU cells of models 0-4 use ``reset_after=False`` (no separate
recurrent bias), as in the original project, so their parameter counts match it.
"""

import functools
import inspect

import keras
from keras import layers

from char_map import NUM_CLASSES
from utils import cnn_output_length


def recorded(factory):
    """Decorator: the built model remembers how it was made, in ``model.build_args``.

    ``build_args`` is ``{"factory": name, **arguments}`` (defaults included), so
    ``train_utils`` can save it beside the weights and rebuild the same model.
    """
    @functools.wraps(factory)
    def build(*args, **kwargs):
        model = factory(*args, **kwargs)
        bound = inspect.signature(factory).bind(*args, **kwargs)
        bound.apply_defaults()
        model.build_args = {"factory": factory.__name__, **bound.arguments}
        return model
    return build


def _output_layers(x, output_dim):
    """Per-frame dense projection to ``output_dim`` classes and the softmax.

    A ``Dense`` layer on ``(batch, frames, units)`` applies the same weights to
    every frame, exactly what ``TimeDistributed(Dense)`` did in the original.
    Keras 3.15's ``TimeDistributed`` cannot be used here: once the train step is
    traced with a variable number of frames it loops over the batch axis instead
    of the time axis and returns as many frames as there are utterances.
    """
    x = layers.Dense(output_dim, name="time_dense")(x)
    return layers.Activation("softmax", name="softmax")(x)


def _model(inputs, outputs, name, output_length=lambda frames: frames):
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    model.output_length = output_length
    return model


@recorded
def simple_rnn_model(input_dim, output_dim=NUM_CLASSES):
    """Model 0: one GRU with ``output_dim`` units, then softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.GRU(output_dim, return_sequences=True, reset_after=False, name="rnn")(inputs)
    outputs = layers.Activation("softmax", name="softmax")(x)
    return _model(inputs, outputs, "model_0")


@recorded
def rnn_model(input_dim, units, activation, output_dim=NUM_CLASSES):
    """Model 1: GRU(units, activation) -> BatchNorm -> Dense per frame -> softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.GRU(units, activation=activation, return_sequences=True, reset_after=False,
                   name="rnn")(inputs)
    x = layers.BatchNormalization(name="bn_rnn")(x)
    return _model(inputs, _output_layers(x, output_dim), "model_1")


@recorded
def cnn_rnn_model(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                  output_dim=NUM_CLASSES):
    """Model 2: Conv1D -> BatchNorm -> SimpleRNN(relu) -> BatchNorm -> Dense per frame -> softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Conv1D(filters, kernel_size, strides=conv_stride, padding=conv_border_mode,
                      activation="relu", name="conv1d")(inputs)
    x = layers.BatchNormalization(name="bn_conv_1d")(x)
    x = layers.SimpleRNN(units, activation="relu", return_sequences=True, name="rnn")(x)
    x = layers.BatchNormalization(name="bn_rnn")(x)
    return _model(inputs, _output_layers(x, output_dim), "model_2",
                  lambda frames: cnn_output_length(frames, kernel_size, conv_border_mode,
                                                   conv_stride))


@recorded
def deep_rnn_model(input_dim, units, recur_layers, output_dim=NUM_CLASSES):
    """Model 3: ``recur_layers`` x [GRU(units) -> BatchNorm] -> Dense per frame -> softmax."""
    inputs = x = keras.Input(shape=(None, input_dim), name="the_input")
    for i in range(recur_layers):
        x = layers.GRU(units, return_sequences=True, reset_after=False, name=f"rnn_{i}")(x)
        x = layers.BatchNormalization(name=f"bn_rnn_{i}")(x)
    return _model(inputs, _output_layers(x, output_dim), "model_3")


@recorded
def bidirectional_rnn_model(input_dim, units, output_dim=NUM_CLASSES):
    """Model 4: Bidirectional(GRU(units), concat) -> Dense per frame -> softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True, reset_after=False),
                             merge_mode="concat", name="bidir_rnn")(inputs)
    return _model(inputs, _output_layers(x, output_dim), "model_4")


@recorded
def final_model(input_dim, filters=192, kernel_size=11, conv_stride=2, units=160,
                recur_layers=2, dropout=0.2, output_dim=NUM_CLASSES):
    """The project's final model: a convolutional front end under a bidirectional GRU stack.

    Conv1D(filters, kernel_size, stride, 'same', relu) -> BN -> Conv1D(filters, 5,
    'same', relu) -> BN -> ``recur_layers`` x [Bidirectional GRU(units) -> BN ->
    Dropout] -> Dense per frame -> softmax.

    The strided convolution halves the frames the recurrent layers must step
    through (twice as fast, and still several frames per character); the second
    convolution widens the acoustic context cheaply; bidirectional GRUs see the
    whole utterance; batch normalisation and dropout keep the deep stack stable
    and stop it from memorising the training speakers' takes. Its GRUs use Keras 3's
    default ``reset_after=True``, which runs faster on CPUs.
    """
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Conv1D(filters, kernel_size, strides=conv_stride, padding="same",
                      activation="relu", name="conv1d")(inputs)
    x = layers.BatchNormalization(name="bn_conv_1d")(x)
    x = layers.Conv1D(filters, 5, padding="same", activation="relu", name="conv1d_context")(x)
    x = layers.BatchNormalization(name="bn_conv_context")(x)
    for i in range(recur_layers):
        x = layers.Bidirectional(layers.GRU(units, return_sequences=True),
                                 name=f"bidir_rnn_{i}")(x)
        x = layers.BatchNormalization(name=f"bn_rnn_{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return _model(inputs, _output_layers(x, output_dim), "final_model",
                  lambda frames: cnn_output_length(frames, kernel_size, "same", conv_stride))


# ======================================================================
# Digit track (FSDD, CNN vs RNN): everything below this line.
# ======================================================================
