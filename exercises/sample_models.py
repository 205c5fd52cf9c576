# Exercise edition of sample_models.py: write your code in place of each
# `raise NotImplementedError("IMPLEMENTATION: ...")` and each `# IMPLEMENTATION:` line.
# Written by `python make_exercises.py` from the solution, ../sample_models.py (instructors:
# edit that one and run the command again). edition-fingerprint: dd8d96e24d080761
"""Keras acoustic models of the VUI track and classifiers of the digit track.

Every VUI model maps features ``(batch, frames, input_dim)`` to per-frame
character probabilities ``(batch, output_length(frames), 29)`` and carries
``model.output_length``, a function from input frames to output frames used by
the CTC loss. GRU cells of models 0-4 use ``reset_after=False`` (no separate
recurrent bias), as in the original project, so their parameter counts match it.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("sample_models")

import functools
import inspect

import keras
from keras import layers, ops

from char_map import NUM_CLASSES
from utils import cnn_output_length


def recorded(factory):
    """Decorator: the built model remembers how it was made, in ``model.build_args``.

    ``build_args`` is ``{"factory": name, **arguments}`` (defaults included), so
    ``train_utils`` can save it beside the weights and rebuild the same model.
    """
    @functools.wraps(factory)
    def build(*args, **kwargs):
        # The factory is looked up at each call, not kept in this closure: IPython's
        # autoreload (used by the exercise notebook) replaces a reloaded function's
        # __dict__, __wrapped__ included, but cannot replace a closure.
        factory = build.__wrapped__
        model = factory(*args, **kwargs)
        bound = inspect.signature(factory).bind(*args, **kwargs)
        bound.apply_defaults()
        # object.__setattr__: Keras would track a dict set on a model, and the tracked
        # copy cannot be pickled (worker processes rebuild models from it).
        object.__setattr__(model, "build_args", {"factory": factory.__name__, **bound.arguments})
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
    # float32 even under mixed precision: CTC takes the log of probabilities as small
    # as 1e-10, which float16 rounds to 0.
    return layers.Activation("softmax", dtype="float32", name="softmax")(x)


class RealFrames(layers.Layer):
    """``(batch, ceil(frames / stride))`` booleans: False on the frames of a batch that are padding.

    Called on features ``(batch, frames, input_dim)``, zero-padded at the end to the
    batch's longest utterance (a real normalised frame is never all zeros). With a
    ``stride``, output frame ``t`` stands for input frame ``t * stride``. Passed as
    ``mask=`` to recurrent and batch-normalisation layers, it makes them skip the
    padding, so an utterance gets the same output alone as padded in a batch.
    """

    def __init__(self, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.stride = stride

    def call(self, features):
        return ops.any(ops.not_equal(features, 0), axis=-1)[:, ::self.stride]

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


class ZeroPadded(layers.Layer):
    """Sets the padded frames of ``x`` to 0: called on ``[x, real]`` (``RealFrames``' output).

    A 'same' convolution reads its neighbours; without this, the bias and the batch
    normalisation offsets of the padding would leak into an utterance's last real frames.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # takes a batch normalisation's mask and ends it here

    def call(self, inputs):
        x, real = inputs
        return x * ops.cast(real, x.dtype)[:, :, None]

    def compute_mask(self, inputs, previous_mask=None):
        return None


def _model(inputs, outputs, name, output_length=lambda frames: frames):
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    model.output_length = output_length
    return model


@recorded
def simple_rnn_model(input_dim, output_dim=NUM_CLASSES):
    """Model 0: one GRU with ``output_dim`` units, then softmax."""
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x = layers.GRU(output_dim, return_sequences=True, reset_after=False, name="rnn")(inputs)
    outputs = layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return _model(inputs, outputs, "model_0")


@recorded
def rnn_model(input_dim, units, activation, output_dim=NUM_CLASSES):
    """Model 1: GRU(units, activation) -> BatchNorm -> Dense per frame -> softmax.

    Input ``(batch, frames, input_dim)`` features, output ``(batch, frames,
    output_dim)`` probabilities: one output frame per input frame. The GRU returns
    every frame (``return_sequences=True``) and has no separate recurrent bias
    (``reset_after=False``, as in the original project); ``_output_layers`` adds
    the dense layer and the softmax, ``_model`` makes the model (see Model 0).
    """
    raise NotImplementedError(
        "IMPLEMENTATION: build Model 1 as the docstring says (Model 0 shows the pattern).")


@recorded
def cnn_rnn_model(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                  output_dim=NUM_CLASSES):
    """Model 2: Conv1D -> BatchNorm -> SimpleRNN(relu) -> BatchNorm -> Dense per frame -> softmax.

    Input ``(batch, frames, input_dim)`` features, output ``(batch,
    output_length(frames), output_dim)`` probabilities. The relu convolution has
    ``filters`` filters of ``kernel_size`` frames, stride ``conv_stride`` and
    padding ``conv_border_mode`` ('same' or 'valid'), so it returns fewer frames:
    give ``_model`` the function ``frames -> cnn_output_length(frames,
    kernel_size, conv_border_mode, conv_stride)``. The SimpleRNN has ``units``
    relu units and returns every frame.
    """
    raise NotImplementedError(
        "IMPLEMENTATION: build Model 2 as the docstring says, with its output_length.")


@recorded
def deep_rnn_model(input_dim, units, recur_layers, output_dim=NUM_CLASSES):
    """Model 3: ``recur_layers`` x [GRU(units) -> BatchNorm] -> Dense per frame -> softmax.

    Input ``(batch, frames, input_dim)`` features, output ``(batch, frames,
    output_dim)`` probabilities. Each GRU (default tanh activation,
    ``reset_after=False``) returns every frame to the next layer; with
    ``recur_layers=1`` the model equals Model 1 with tanh.
    """
    raise NotImplementedError(
        "IMPLEMENTATION: build Model 3 as the docstring says, for any recur_layers.")


@recorded
def bidirectional_rnn_model(input_dim, units, output_dim=NUM_CLASSES):
    """Model 4: Bidirectional(GRU(units), concat) -> Dense per frame -> softmax.

    Input ``(batch, frames, input_dim)`` features, output ``(batch, frames,
    output_dim)`` probabilities. One GRU (``reset_after=False``) reads the
    frames forwards, a copy of it backwards, and their ``2 * units`` outputs are
    joined for every frame (``merge_mode="concat"``). The backward GRU would start
    on a batch's zero padding: ``real = RealFrames()(inputs)`` says which frames
    are real, and calling the Bidirectional layer with ``mask=real`` makes both
    GRUs skip the others.
    """
    raise NotImplementedError("IMPLEMENTATION: build Model 4 as the docstring says.")


def _strided_front_end(inputs, filters, kernel_size, conv_stride):
    """Conv1D(stride, relu) -> BN with the padding zeroed; returns ``(x, real)``.

    ``x`` is ``(batch, ceil(frames / conv_stride), filters)``; ``real`` marks its
    frames that are not padding (``RealFrames``). The convolution pads
    ``kernel_size // 2`` frames on each side itself, so output frame ``t`` is
    centred on input frame ``t * conv_stride`` whatever the padded length of the
    batch ('same' padding would shift that grid with the padded length).
    """
    real = RealFrames(conv_stride, name="real_frames")(inputs)
    x = layers.ZeroPadding1D(kernel_size // 2, name="conv_padding")(inputs)
    x = layers.Conv1D(filters, kernel_size, strides=conv_stride, activation="relu",
                      name="conv1d")(x)
    x = layers.BatchNormalization(name="bn_conv_1d")(x, mask=real)
    return ZeroPadded(name="zero_padding")([x, real]), real


@recorded
def final_model(input_dim,
                # IMPLEMENTATION: the arguments of your design, each with a default value
                output_dim=NUM_CLASSES):
    raise NotImplementedError(
        "IMPLEMENTATION: build and describe your own design (Step 5 of the notebook).")


@recorded
def dilated_cnn_model(input_dim, filters=192, kernel_size=11, conv_stride=3,
                      dilations=(1, 2, 4, 8), output_dim=NUM_CLASSES):
    """Model 5: convolutions only, no recurrence: a strided front end, then dilated residual blocks.

    Conv1D(filters, kernel_size, stride conv_stride, relu) -> BN, then for each
    ``d`` in ``dilations``: x + BN(Conv1D(filters, 3, dilation d, 'same', relu)(x))
    -> Dense per frame -> softmax. Doubling dilations widen the context
    exponentially at a constant cost per block: with the defaults an output frame
    sees ``kernel_size + 2 * sum(dilations) * conv_stride`` = 101 input frames
    (1 s). Every frame is computed at once, so an epoch costs a fraction of a
    recurrent model's. The padding is zeroed after every block: a 'same'
    convolution would otherwise read the bias and batch-normalisation offsets of
    the padding into the last real frames.
    """
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x, real = _strided_front_end(inputs, filters, kernel_size, conv_stride)
    for d in dilations:
        y = layers.Conv1D(filters, 3, dilation_rate=d, padding="same", activation="relu",
                          name=f"conv1d_dilated_{d}")(x)
        y = layers.BatchNormalization(name=f"bn_dilated_{d}")(y, mask=real)
        x = layers.Add(name=f"residual_{d}")([x, y])
        x = ZeroPadded(name=f"zero_padding_{d}")([x, real])
    return _model(inputs, _output_layers(x, output_dim), "model_5",
                  lambda frames: cnn_output_length(frames, kernel_size, "same", conv_stride))


@recorded
def conv_attention_model(input_dim, filters=192, kernel_size=11, conv_stride=3, heads=4,
                         blocks=2, dropout=0.1, output_dim=NUM_CLASSES):
    """Model 6: convolutions under self-attention blocks (a small Transformer encoder).

    Conv1D(filters, kernel_size, stride conv_stride, relu) -> BN -> Conv1D(filters,
    5, 'same', relu) -> BN, then ``blocks`` x [x + MultiHeadAttention(heads,
    filters // heads)(x, x) -> LayerNorm -> x + Dense(2 filters, relu) ->
    Dense(filters) -> LayerNorm] -> Dense per frame -> softmax.

    Attention lets every output frame weigh every other frame of the utterance in
    one step instead of a recurrence's ``frames`` steps. It has no sense of order
    of its own; the convolutions below it give every frame its local context, and
    the residual connections keep it. Real frames attend to real frames only, so
    an utterance's output does not depend on its batch.
    """
    inputs = keras.Input(shape=(None, input_dim), name="the_input")
    x, real = _strided_front_end(inputs, filters, kernel_size, conv_stride)
    x = layers.Conv1D(filters, 5, padding="same", activation="relu", name="conv1d_context")(x)
    x = layers.BatchNormalization(name="bn_conv_context")(x, mask=real)
    x = ZeroPadded(name="zero_padding_context")([x, real])
    for i in range(blocks):
        attended = layers.MultiHeadAttention(heads, filters // heads, dropout=dropout,
                                             name=f"self_attention_{i}")(x, x, value_mask=real)
        x = layers.LayerNormalization(name=f"ln_attention_{i}")(
            layers.Add(name=f"residual_attention_{i}")([x, attended]))
        y = layers.Dense(2 * filters, activation="relu", name=f"ffn_in_{i}")(x)
        y = layers.Dropout(dropout, name=f"dropout_{i}")(layers.Dense(filters, name=f"ffn_out_{i}")(y))
        x = layers.LayerNormalization(name=f"ln_ffn_{i}")(layers.Add(name=f"residual_ffn_{i}")([x, y]))
    return _model(inputs, _output_layers(x, output_dim), "model_6",
                  lambda frames: cnn_output_length(frames, kernel_size, "same", conv_stride))


# ======================================================================
# Digit track (FSDD, CNN vs RNN)
# ======================================================================

# Digit classifiers take (batch, 64, 64) spectrogram images in [0, 1] and return
# (batch, 10) logits. The factories return uncompiled models;
# digit_experiments.fit_digit_model compiles and trains them.
DIGIT_IMAGE_SIZE = 64  # FSDD images are 64 x 64 pixels (digit_images.load_digit_images)
DIGIT_CLASSES = 10


def _image_input(size):
    return keras.Input(shape=(size, size), dtype="float32", name="image")


@recorded
def essay_cnn(size=DIGIT_IMAGE_SIZE):
    """The essay's CNN: four 3x3 convolutions with 64 filters, three max-pools, two dense layers.

    Input ``(batch, size, size)`` images in [0, 1]; output ``(batch, 10)`` logits.
    With ``size=64`` the feature maps are 62 -> 31 -> 29 -> 14 -> 12 -> 6 -> 4
    pixels wide and the model has 177,674 parameters.
    """
    inputs = _image_input(size)
    x = layers.Reshape((size, size, 1), name="add_channel")(inputs)
    for i in range(1, 5):
        x = layers.Conv2D(64, 3, activation="relu", name=f"conv_{i}")(x)
        if i < 4:
            x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    outputs = layers.Dense(DIGIT_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="essay_cnn")


@recorded
def essay_rnn(size=DIGIT_IMAGE_SIZE):
    """The essay's RNN: two relu LSTMs that step through the image's rows (frequency bands).

    Input ``(batch, size, size)``: ``size`` steps of ``size`` values, row 0
    (the highest frequencies) first. Output ``(batch, 10)`` logits (the essay's
    final softmax is folded into the loss). 234,858 parameters with ``size=64``.
    """
    inputs = _image_input(size)
    x = layers.LSTM(128, activation="relu", return_sequences=True, name="lstm_1")(inputs)
    x = layers.Dropout(0.2, name="dropout_1")(x)
    x = layers.LSTM(128, activation="relu", name="lstm_2")(x)
    x = layers.Dropout(0.1, name="dropout_2")(x)
    x = layers.Dense(32, activation="relu", name="dense")(x)
    x = layers.Dropout(0.2, name="dropout_3")(x)
    outputs = layers.Dense(DIGIT_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="essay_rnn")


def random_band_mask(generator, batch, length, width):
    """``(batch, length)`` float mask: 0 on one random band of 0..``width`` positions, else 1.

    Each row gets its own band, drawn with the ``keras.random.SeedGenerator`` ``generator``.
    """
    start = keras.random.randint((batch, 1), 0, length, seed=generator)
    band = keras.random.randint((batch, 1), 0, width + 1, seed=generator)
    position = ops.arange(length)[None, :]
    return ops.cast((position < start) | (position >= start + band), "float32")


class SpecAugment(layers.Layer):
    """Training-time augmentation of ``(batch, rows, columns)`` spectrogram images.

    Shifts every image in time by up to ``max_shift`` columns (zero fill) and
    blanks one random band of up to ``freq_mask`` rows and one of up to
    ``time_mask`` columns (SpecAugment). At inference it returns its input.
    """

    def __init__(self, max_shift=6, freq_mask=8, time_mask=8, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift, self.freq_mask, self.time_mask = max_shift, freq_mask, time_mask
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        batch, rows, columns = ops.shape(images)[0], images.shape[1], images.shape[2]
        if self.max_shift:
            # Shift by padding both ends and cutting a random window of the columns.
            padded = ops.pad(images, [[0, 0], [0, 0], [self.max_shift, self.max_shift]])
            offset = keras.random.randint((batch, 1), 0, 2 * self.max_shift + 1,
                                          seed=self.generator)
            index = offset + ops.arange(columns)[None, :]
            images = ops.take_along_axis(padded, ops.broadcast_to(index[:, None, :],
                                                                  (batch, rows, columns)), axis=2)
        mask = (random_band_mask(self.generator, batch, rows, self.freq_mask)[:, :, None]
                * random_band_mask(self.generator, batch, columns, self.time_mask)[:, None, :])
        return images * ops.cast(mask, images.dtype)

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift,
                "freq_mask": self.freq_mask, "time_mask": self.time_mask, "seed": self.seed}


def _standardize(x):
    """Per-image standardisation: zero mean, unit variance over all pixels of each image."""
    mean = ops.mean(x, axis=(1, 2), keepdims=True)
    return (x - mean) / (ops.std(x, axis=(1, 2), keepdims=True) + 1e-6)


@recorded
def digit_cnn(size=DIGIT_IMAGE_SIZE, filters=(16, 32, 64, 128), dropout=0.3, augment=True):
    """Our CNN: augmentation, per-image standardisation, batch-normalised conv blocks.

    Input ``(batch, size, size)`` images: values in [0, 1], or the per-speaker
    z-scores of ``digit_images.normalize_speakers``; output ``(batch, 10)``
    logits. After augmentation and per-image standardisation the image is
    averaged down to half resolution (32 x 32). Each block is
    a 3x3 'same' convolution without bias, batch normalisation, relu and a 2x2
    max-pool (32 -> 16 -> 8 -> 4 -> 2 pixels with the default four blocks); a
    global average over the last maps makes the classifier independent of
    exactly where in time and frequency a pattern sits.
    """
    inputs = _image_input(size)
    # Augmentation and standardisation stay in float32 under a mixed-precision policy.
    x = SpecAugment(name="augment", dtype="float32")(inputs) if augment else inputs
    x = layers.Lambda(_standardize, name="standardize", dtype="float32")(x)
    x = layers.Reshape((size, size, 1), name="add_channel")(x)
    x = layers.AveragePooling2D(2, name="half_resolution")(x)  # 32 x 32 pixels suffice
    for i, width in enumerate(filters, 1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv_{i}")(x)
        x = layers.BatchNormalization(name=f"bn_{i}")(x)
        x = layers.Activation("relu", name=f"relu_{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(DIGIT_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="digit_cnn")


@recorded
def time_rnn(size=DIGIT_IMAGE_SIZE, units=128, stack=4, dropout=0.3, augment=True):
    """Our RNN: two bidirectional GRUs that step through time (the image's columns).

    Input ``(batch, size, size)`` images, as for ``digit_cnn``. After augmentation and
    per-image standardisation, neighbouring frequency rows are averaged in pairs
    (``size / 2`` rows, as our CNN does), the image is turned time-major and every
    ``stack`` neighbouring columns are joined into one step: ``size / stack``
    steps of ``stack * size / 2`` values (16 steps of 128 by default; fewer,
    richer steps train faster on a CPU). Then Bidirectional GRU(units) twice,
    the average of the last GRU's outputs over all steps, Dropout and Dense.
    Output ``(batch, 10)`` logits.
    """
    if size % stack or size % 2:
        raise ValueError(f"stack ({stack}) must divide the image size ({size}), which must be "
                         "even.")
    inputs = _image_input(size)
    # Augmentation and standardisation stay in float32 under a mixed-precision policy.
    x = SpecAugment(name="augment", dtype="float32")(inputs) if augment else inputs
    x = layers.Lambda(_standardize, name="standardize", dtype="float32")(x)
    x = layers.AveragePooling1D(2, name="half_frequency")(x)  # pairs of rows: (batch, size/2, size)
    x = layers.Permute((2, 1), name="time_major")(x)  # (batch, columns = time, rows)
    x = layers.Reshape((size // stack, stack * size // 2), name="stack_frames")(x)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True), name="bigru_1")(x)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True), name="bigru_2")(x)
    x = layers.GlobalAveragePooling1D(name="time_average")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(DIGIT_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="time_rnn")
