"""CTC, the loss of the VUI track: the loss, a worked example of it, and greedy decoding.

``CTCLoss`` computes the connectionist temporal classification loss of an
acoustic model's per-frame probabilities (``keras.ops.ctc_loss``, the blank at
index 28); ``add_ctc_loss`` wraps a model with it for training. Some functions
make CTC visible on small cases: every alignment (frame path) of a transcript,
how a path collapses to text, the probability of one path under toy
probabilities, and the fewest frames a transcript needs. ``predict_texts`` runs a
model over features and decodes its probabilities, greedily by default
(``greedy_decode``: the likeliest symbol of every frame, repeats merged, blanks
dropped); training uses it to score every epoch on the validation strings.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("ctc")

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from char_map import BLANK_INDEX, char_map
from data_generator import pad_batch
from utils import int_sequence_to_text

class CTCLoss(keras.layers.Layer):
    """Per-utterance CTC loss of softmax outputs; the blank is index 28.

    Called on ``[labels (batch, max_label) int, probabilities (batch, frames_out,
    29), input_length (batch, 1) int, label_length (batch, 1) int]``; returns the
    loss of each utterance, shape ``(batch,)``, in nats.
    """

    def __init__(self, output_length, **kwargs):
        super().__init__(**kwargs)
        self.output_length = output_length
        # A masked model's probabilities carry their padding mask; the lengths already
        # say which frames count, and the per-utterance loss has no frames to mask.
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def call(self, inputs):
        labels, probabilities, input_length, label_length = inputs
        output_length = self.output_length(ops.squeeze(input_length, -1))
        # ctc_loss normalises its input with a log-softmax, which leaves
        # log-probabilities unchanged.
        log_probabilities = ops.log(probabilities + keras.config.epsilon())
        return ops.ctc_loss(labels, log_probabilities, ops.squeeze(label_length, -1),
                            output_length, mask_index=BLANK_INDEX)


BLANK_SYMBOL = "_"  # how the blank is written in a frame-by-frame path


def ctc_alignments(text, frames):
    """Every frame path of ``frames`` symbols that CTC collapses to ``text``.

    A path holds one character of ``text`` or the blank (``_``) per frame;
    merging its repeats and then dropping its blanks must give ``text``. The
    paths are the alignments whose probabilities the CTC loss sums; their number
    grows fast, so keep ``text`` and ``frames`` small (a worked example).
    """
    from itertools import product

    paths = ("".join(path) for path in product(sorted(set(text)) + [BLANK_SYMBOL], repeat=frames))
    return [path for path in paths if collapse_path(path)[1] == text]


def collapse_path(path):
    """``(merged, text)``: a frame path with repeats merged, then with its blanks dropped.

    ``"tt_hhr_ee"`` -> ``("t_hr_e", "thre")``: CTC's rule, which is why a doubled
    letter needs a blank between its two frames.
    """
    merged = "".join(symbol for i, symbol in enumerate(path) if i == 0 or symbol != path[i - 1])
    return merged, merged.replace(BLANK_SYMBOL, "")


def symbol_index(symbol):
    """Class index of a character, or of the blank written ``_``."""
    return BLANK_INDEX if symbol == BLANK_SYMBOL else char_map[symbol]


def toy_probabilities(columns):
    """``(frames, 29)`` probabilities from ``{symbol: [probability per frame]}``, 0 elsewhere.

    For worked examples: ``{"a": [...], "b": [...], "_": [...]}`` with each frame's
    probabilities summing to 1.
    """
    frames = len(next(iter(columns.values())))
    probabilities = np.zeros((frames, BLANK_INDEX + 1), np.float32)
    for symbol, column in columns.items():
        probabilities[:, symbol_index(symbol)] = column
    return probabilities


def path_probability(probabilities, path):
    """Probability of one frame path (``"aa_b"``) under ``(frames, 29)`` probabilities."""
    return float(np.prod([probabilities[t, symbol_index(s)] for t, s in enumerate(path)]))


def ctc_loss_of(probabilities, text):
    """CTC loss in nats of one utterance's ``(frames, 29)`` probabilities for ``text``.

    Computed by ``CTCLoss`` (``keras.ops.ctc_loss``, blank 28) exactly as in training.
    """
    labels = np.array([[symbol_index(c) for c in text]], np.int32)
    loss = CTCLoss(lambda frames: frames)([labels, np.asarray(probabilities, np.float32)[None],
                                           np.array([[len(probabilities)]], np.int32),
                                           np.array([[len(text)]], np.int32)])
    return float(ops.convert_to_numpy(loss)[0])


def add_ctc_loss(input_to_softmax):
    """Wrap an acoustic model so that its output is the CTC loss of each utterance.

    The returned model takes the four inputs served by ``CTCBatches``
    (``the_input``, ``the_labels``, ``input_length``, ``label_length``) and outputs
    ``ctc``, shape ``(batch,)``. Output frames come from ``input_to_softmax.output_length``.
    """
    labels = keras.Input(name="the_labels", shape=(None,), dtype="int32")
    input_length = keras.Input(name="input_length", shape=(1,), dtype="int32")
    label_length = keras.Input(name="label_length", shape=(1,), dtype="int32")
    loss = CTCLoss(input_to_softmax.output_length, dtype="float32", name="ctc")(
        [labels, input_to_softmax.output, input_length, label_length])
    return keras.Model([input_to_softmax.input, labels, input_length, label_length], loss,
                       name=f"{input_to_softmax.name}_ctc")


def ctc_output_loss(y_true, y_pred):
    """Keras loss for ``add_ctc_loss`` models: the model's output already is the loss."""
    return y_pred


def frames_needed(text):
    """The fewest output frames CTC can spell ``text`` in: a frame per character, plus
    one blank between two equal characters in a row."""
    return len(text) + sum(a == b for a, b in zip(text, text[1:]))


def check_label_lengths(input_to_softmax, utterances, features):
    """Refuse utterances whose transcript cannot fit in the model's output frames.

    CTC needs at least one output frame per character, plus one blank between two
    equal characters in a row. Raises ``ValueError`` naming the first such utterance.
    """
    for utterance, feature in zip(utterances, features):
        text = utterance["text"]
        needed = frames_needed(text)
        frames = int(input_to_softmax.output_length(len(feature)))
        if frames < needed:
            raise ValueError(
                f"{utterance['key']}: the transcript needs {needed} output frames "
                f"({len(text)} characters) but {len(feature)} input frames give only {frames} "
                f"with model {input_to_softmax.name}. Remove the utterance from the corpus or "
                "use a model with less downsampling (a smaller conv stride).")


# ------------------------------------------------------------ greedy decoding

def greedy_decode(probabilities, output_lengths):
    """Best-path CTC decoding.

    Args:
        probabilities: ``(batch, frames, 29)`` per-frame character probabilities.
        output_lengths: ``(batch,)`` valid frames of each row.

    Returns:
        A list of ``batch`` strings: the most likely character per frame, repeats
        merged, blanks removed.
    """
    decoded, _ = ops.ctc_decode(probabilities, np.asarray(output_lengths, np.int32),
                                strategy="greedy", mask_index=BLANK_INDEX)
    return [int_sequence_to_text(row) for row in ops.convert_to_numpy(decoded[0])]


def forward_pass(input_to_softmax):
    """The model's inference call, traced once for every batch size and frame count.

    Called eagerly, a recurrent layer steps through the frames in Python, some 30
    times slower than the traced loop.
    """
    if not hasattr(input_to_softmax, "_traced_forward_pass"):
        features = tf.TensorSpec((None, None, input_to_softmax.input_shape[-1]), tf.float32)
        traced = tf.function(lambda batch: input_to_softmax(batch, training=False),
                             input_signature=[features])
        # object.__setattr__: Keras would otherwise try to track the function as state.
        object.__setattr__(input_to_softmax, "_traced_forward_pass", traced)
    return input_to_softmax._traced_forward_pass


def output_frames(input_to_softmax, frames):
    """Output frames of a model for ``frames`` input frames (an int or an array), never below 0.

    A convolution's formula goes negative for inputs shorter than its kernel; such
    an utterance has no output frame at all (and decodes to the empty string).
    """
    return np.maximum(np.asarray(input_to_softmax.output_length(np.asarray(frames))), 0)


def predict_texts(input_to_softmax, features, batch_size=32, decode=greedy_decode):
    """Transcribe normalised feature arrays ``(frames_i, input_dim)``.

    Utterances are batched in order of length and padded, and the model is called
    on the padded batches, so any mix of lengths works; each utterance is decoded
    from its own output frames only. ``decode`` maps a batch's ``(batch, frames,
    29)`` probabilities and ``(batch,)`` output lengths to texts (``decoders``).
    Returns a list of strings in the order of ``features``.
    """
    order = np.argsort([len(f) for f in features], kind="stable")
    texts = [None] * len(features)
    for start in range(0, len(order), batch_size):
        members = order[start:start + batch_size]
        # Calling the model (not predict_on_batch) keeps every batch's own frame count.
        probabilities = ops.convert_to_numpy(
            forward_pass(input_to_softmax)(pad_batch([features[i] for i in members])))
        lengths = np.minimum(output_frames(input_to_softmax, [len(features[i]) for i in members]),
                             probabilities.shape[1])
        for i, text in zip(members, decode(probabilities, lengths)):
            texts[i] = text
    return texts
