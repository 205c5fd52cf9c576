"""model_figures.py: architecture figures read off the Keras models."""

import matplotlib

matplotlib.use("Agg")

import model_figures  # noqa: E402
import sample_models  # noqa: E402


def test_rows_name_each_layer_and_follow_the_frame_rate():
    rows = model_figures.architecture_rows(sample_models.final_model(81))
    kinds = [kind for kind, _, _, _ in rows]
    assert kinds[0] == "input" and kinds[-1] == "output"
    assert rows[0][2] == "(T, 81)"
    assert rows[1][:3] == ("convolution", "Conv1D 192 filters, 11 frames wide, stride 3",
                           "(T/3, 192)")
    assert [text for kind, text, _, _ in rows if kind == "recurrent"] == [
        "bidirectional GRU 128 + 128 (tanh)   ⇄ reads both ways"] * 2
    assert rows[-1][2] == "(T/3, 29)" and all(skip is None for *_, skip in rows)
    two = model_figures.architecture_rows(sample_models.cnn_rnn_model(81, 200, 11, 2, "valid", 200))
    assert [shape for _, _, shape, _ in two][-3:] == ["(T/2, 200)", "(T/2, 29)", "(T/2, 29)"]
    gru = model_figures.architecture_rows(sample_models.simple_rnn_model(13))
    assert [text for _, text, _, _ in gru] == [
        "features, 13 per frame (10 ms)", "GRU 29 (tanh)   ↻ one step per frame",
        "softmax: 29 probabilities per frame"]


def test_residual_additions_name_the_row_they_add_back():
    """Model 5's blocks add their input back: each addition's bypass starts where its block
    starts (the batch normalisation of the front end, then the addition before it)."""
    rows = model_figures.architecture_rows(sample_models.dilated_cnn_model(81))
    skips = [(number, skip) for number, (kind, _, _, skip) in enumerate(rows) if kind == "residual"]
    assert [skip for _, skip in skips] == [2, 5, 8, 11]
    assert rows[2][1] == "batch normalisation" and all(rows[s][0] == "residual" for s in (5, 8, 11))
    for number, skip in skips:
        assert number - skip == 3  # the bypassed convolution and its batch normalisation


def test_every_model_of_the_notebook_gets_a_box_per_row_and_a_legend():
    for model in (sample_models.bidirectional_rnn_model(81, 200),
                  sample_models.dilated_cnn_model(81), sample_models.conv_attention_model(81)):
        rows = model_figures.architecture_rows(model)
        figure = model_figures.plot_architecture(model)
        ax = figure.axes[0]
        assert len(ax.patches) == len(rows)
        legend = {text.get_text() for text in ax.get_legend().get_texts()}
        bypasses = any(skip is not None for *_, skip in rows)
        assert legend == {k for k, _, _, _ in rows} | ({"residual bypass"} if bypasses else set())
        assert model.name in ax.get_title()
        matplotlib.pyplot.close(figure)
