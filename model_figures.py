"""Architecture figures of the VUI acoustic models, drawn from the Keras models themselves.

``plot_architecture(model)`` draws a model's layers bottom to top, input to
softmax, one box per layer coloured by its kind, with the shape each layer
returns for an utterance of ``T`` input frames. Being read off the model, a
figure always shows the model that is trained, and it needs nothing but
matplotlib, so it shows in the HTML export.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("model_figures")

import matplotlib.pyplot as plt
from keras import layers
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch


KIND_COLOURS = {  # kind of layer: face colour
    "input": "#d9d9d9", "convolution": "#9ecae1", "recurrent": "#fdae6b",
    "attention": "#c7a0d9", "normalisation": "#e6f0c2", "residual": "#ffffff", "dense": "#a1d99b",
    "output": "#fc9272",
}


def _frames(stride):
    return "T" if stride == 1 else f"T/{stride}"


def _describe(layer):
    """``(kind, text)`` of one layer, or None for the layers a reader need not see."""
    if isinstance(layer, layers.InputLayer):
        return "input", f"features, {layer.batch_shape[-1]} per frame (10 ms)"
    if isinstance(layer, layers.Bidirectional):
        cell = layer.forward_layer
        return "recurrent", (f"bidirectional {type(cell).__name__} {cell.units} + {cell.units} "
                             f"({cell.activation.__name__})   ⇄ reads both ways")
    if isinstance(layer, (layers.GRU, layers.SimpleRNN, layers.LSTM)):
        return "recurrent", (f"{type(layer).__name__} {layer.units} ({layer.activation.__name__})"
                             "   ↻ one step per frame")
    if isinstance(layer, layers.Conv1D):
        text = f"Conv1D {layer.filters} filters, {layer.kernel_size[0]} frames wide"
        if layer.strides[0] > 1:
            text += f", stride {layer.strides[0]}"
        if layer.dilation_rate[0] > 1:
            text += f", dilation {layer.dilation_rate[0]}"
        return "convolution", text
    if isinstance(layer, layers.MultiHeadAttention):
        return "attention", f"self-attention, {layer.num_heads} heads of {layer.key_dim}"
    if isinstance(layer, layers.BatchNormalization):
        return "normalisation", "batch normalisation"
    if isinstance(layer, layers.LayerNormalization):
        return "normalisation", "layer normalisation"
    if isinstance(layer, layers.Dropout):
        return "normalisation", f"dropout {layer.rate:g}"
    if isinstance(layer, layers.Add):
        return "residual", "+ residual: add the block's input"
    if isinstance(layer, layers.Dense):
        return "dense", f"dense {layer.units}, the same weights on every frame"
    if isinstance(layer, layers.Activation):
        return "output", "softmax: 29 probabilities per frame"
    return None  # RealFrames, ZeroPadding1D, ZeroPadded: how a batch's padding is kept out


def _stride_of(layer):
    return layer.strides[0] if isinstance(layer, layers.Conv1D) else 1


def architecture_rows(model):
    """The boxes of ``model``'s figure, input first: a list of ``(kind, text, shape, skip)``.

    ``shape`` is the ``(frames, channels)`` a layer returns for ``T`` input frames,
    e.g. ``"(T/3, 192)"`` after a convolution of stride 3. ``skip`` is, for a
    residual addition, the row whose output it adds back (drawn as a bypass
    arrow), else ``None``.
    """
    rows, row_of, stride = [], {}, 1
    for layer in model.layers:
        stride *= _stride_of(layer)
        sources = [row_of.get(id(tensor._keras_history.operation))
                   for tensor in _inputs(layer)]
        described = _describe(layer)
        if described is None:  # an undrawn layer stands for the row it follows
            row_of[id(layer)] = sources[0] if sources else None
            continue
        kind, text = described
        skip = min((s for s in sources if s is not None), default=None) if kind == "residual" \
            else None
        row_of[id(layer)] = len(rows)
        rows.append((kind, text, f"({_frames(stride)}, {layer.output.shape[-1]})", skip))
    return rows


def _inputs(layer):
    """The tensors a layer of a functional model was called on (none for the input)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    return list(nodes[0].input_tensors) if nodes else []


def plot_architecture(model, title=None):
    """Draw ``model``'s layers as a column of boxes, input at the bottom; returns the figure.

    Each box names the layer and its settings; to its right, the shape it
    returns for an utterance of ``T`` frames. Colours mark the kind of layer; a
    blue arrow on the left carries a block's input round it to a residual addition.
    """
    rows = architecture_rows(model)
    height = 0.42 * len(rows) + 1.2
    fig, ax = plt.subplots(figsize=(9, height))
    for i, (kind, text, shape, skip) in enumerate(rows):
        ax.add_patch(FancyBboxPatch((0.05, i + 0.15), 0.62, 0.7, boxstyle="round,pad=0.02",
                                    facecolor=KIND_COLOURS[kind], edgecolor="#555555"))
        ax.text(0.36, i + 0.5, text, ha="center", va="center", fontsize=9)
        ax.text(0.72, i + 0.5, shape, ha="left", va="center", fontsize=9, family="monospace")
        if i:
            ax.annotate("", (0.36, i + 0.15), (0.36, i - 0.15),
                        arrowprops={"arrowstyle": "->", "color": "#555555"})
        if skip is not None:  # the residual bypass: from the block's input, round the block
            lane = 0.02 - 0.025 * (sum(r[3] is not None for r in rows[:i]) % 2)
            ax.plot([0.05, lane, lane], [skip + 0.4, skip + 0.4, i + 0.5], color="#3182bd", lw=1.3)
            ax.annotate("", (0.05, i + 0.5), (lane, i + 0.5),
                        arrowprops={"arrowstyle": "->", "color": "#3182bd", "lw": 1.3})
    ax.set(xlim=(-0.06, 1), ylim=(-0.1, len(rows)), xticks=[], yticks=[])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title or f"{model.name}: {model.count_params():,} parameters, input at the bottom")
    kinds = list(dict.fromkeys(kind for kind, _, _, _ in rows))
    handles = [Patch(facecolor=KIND_COLOURS[k], edgecolor="#555555", label=k) for k in kinds]
    if any(skip is not None for _, _, _, skip in rows):
        handles.append(Line2D([], [], color="#3182bd", lw=1.3, label="residual bypass"))
    ax.legend(handles=handles,
              loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.text(0.72, len(rows) - 0.05, "output (frames, channels)", ha="left", va="top", fontsize=8,
            color="#555555")
    fig.tight_layout()
    return fig
