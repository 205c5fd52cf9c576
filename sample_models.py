"""Keras acoustic models of the VUI track and classifiers of the digit track.

Every VUI model maps features ``(batch, frames, input_dim)`` to per-frame
character probabilities ``(batch, output_length(frames), 29)`` and carries
``model.output_length``, a function from input frames to output frames used by
the CTC loss. GRU cells of models 0-4 use ``reset_after=False`` (no separate
recurrent bias), as in the original project, so their parameter counts match it.
"""

import keras
from keras import layers

from char_map import NUM_CLASSES
from utils import cnn_output_length


def _output_layers(x, output_dim):
    """Per-frame dense projection to ``output_dim`` classes and the softmax."""
    x = layers.TimeDistributed(layers.Dense(output_dim), name="time_dense")(x)
    return layers.Activation("softmax", name="softmax")(x)


def _model(inputs, outputs, name, output_length=lambda frames: frames):
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    model.output_length = output_length
    return model


def simple_rnn_model(input_dim, output_dim=NUM_CLASSES):
    """Model 0: one GRU with ``output_dim`` units, then softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.GRU(output_dim, return_sequences=True, reset_after=False, name="rnn")(inputs)
    outputs = layers.Activation("softmax", name="softmax")(x)
    return _model(inputs, outputs, "model_0")


def rnn_model(input_dim, units, activation, output_dim=NUM_CLASSES):
    """Model 1: GRU(units, activation) -> BatchNorm -> TimeDistributed(Dense) -> softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.GRU(units, activation=activation, return_sequences=True, reset_after=False,
                   name="rnn")(inputs)
    x = layers.BatchNormalization(name="bn_rnn")(x)
    return _model(inputs, _output_layers(x, output_dim), "model_1")


def cnn_rnn_model(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                  output_dim=NUM_CLASSES):
    """Model 2: Conv1D -> BatchNorm -> SimpleRNN(relu) -> BatchNorm -> TimeDistributed(Dense) -> softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Conv1D(filters, kernel_size, strides=conv_stride, padding=conv_border_mode,
                      activation="relu", name="conv1d")(inputs)
    x = layers.BatchNormalization(name="bn_conv_1d")(x)
    x = layers.SimpleRNN(units, activation="relu", return_sequences=True, name="rnn")(x)
    x = layers.BatchNormalization(name="bn_rnn")(x)
    return _model(inputs, _output_layers(x, output_dim), "model_2",
                  lambda frames: cnn_output_length(frames, kernel_size, conv_border_mode,
                                                   conv_stride))


def deep_rnn_model(input_dim, units, recur_layers, output_dim=NUM_CLASSES):
    """Model 3: ``recur_layers`` x [GRU(units) -> BatchNorm] -> TimeDistributed(Dense) -> softmax."""
    inputs = x = keras.Input(shape=(None, input_dim), name="the_input")
    for i in range(recur_layers):
        x = layers.GRU(units, return_sequences=True, reset_after=False, name=f"rnn_{i}")(x)
        x = layers.BatchNormalization(name=f"bn_rnn_{i}")(x)
    return _model(inputs, _output_layers(x, output_dim), "model_3")


def bidirectional_rnn_model(input_dim, units, output_dim=NUM_CLASSES):
    """Model 4: Bidirectional(GRU(units), concat) -> TimeDistributed(Dense) -> softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True, reset_after=False),
                             merge_mode="concat", name="bidir_rnn")(inputs)
    return _model(inputs, _output_layers(x, output_dim), "model_4")


# ======================================================================
# Digit track (FSDD, CNN vs RNN): everything below this line.
# ======================================================================
