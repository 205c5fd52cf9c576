"""make_exercises.py and exercise_checks.py: the learner's edition and its self-checks."""

import ast
import html
import os
import re
import time

import keras
import nbformat
import pytest
from keras import layers
from nbclient import NotebookClient
from nbconvert import HTMLExporter

import exercise_checks
import make_exercises
import sample_models
from exercise_checks import CheckFailed
from plumbing import PROJECT_DIR

SOLUTION_MODULE = (PROJECT_DIR / make_exercises.MODULE).read_text()
SOLUTION_NOTEBOOK = nbformat.read(PROJECT_DIR / make_exercises.NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def edition():
    return make_exercises.edition()


def put_solution_back(exercise, solution):
    """``exercise`` with each IMPLEMENTATION placeholder replaced by the region of ``solution``."""
    solution_lines = solution.splitlines(keepends=True)
    regions = iter(make_exercises.solution_regions(solution))
    lines, restored, i = exercise.splitlines(keepends=True), [], 0
    while i < len(lines):
        line = lines[i].strip()
        opens_raise = line == "raise NotImplementedError("
        if opens_raise or line.startswith(("# IMPLEMENTATION: ",
                                           'raise NotImplementedError("IMPLEMENTATION: ')):
            while opens_raise and not lines[i].rstrip().endswith('")'):
                i += 1
            region = next(regions)
            restored += solution_lines[region.begin:region.end + 1]
        else:
            restored.append(lines[i])
        i += 1
    assert next(regions, None) is None, "a solution region has no placeholder"
    text = "".join(restored)
    return text if exercise.endswith("\n") or not text.endswith("\n") else text[:-1]


def notebook_with_solution_back(exercise, solution):
    """The exercise notebook without its added cells, with solutions and answers put back."""
    by_id = {cell.id: cell for cell in solution.cells}
    cells = []
    for cell in exercise.cells:
        if cell.id.startswith("exercise-"):
            continue
        cell = nbformat.from_dict(dict(cell))
        if make_exercises.ANSWER_TAG in cell.metadata.get("tags", []):
            cell.source = by_id[cell.id].source
        if cell.cell_type == "code":
            cell.source = put_solution_back(cell.source, by_id[cell.id].source)
            cell.source = cell.source.replace(make_exercises.RESULTS[1], make_exercises.RESULTS[0])
            cell.source = cell.source.replace("\n" + make_exercises.SETUP, "")
        cells.append(cell)
    return cells


def region_lines(source):
    """The stripped lines inside each solution region of ``source``, region by region."""
    lines = source.splitlines()
    return [[line.strip() for line in lines[region.begin + 1:region.end] if line.strip()]
            for region in make_exercises.solution_regions(source)]


# ------------------------------------------------------------------ the generator

def test_committed_edition_is_a_fresh_regeneration(edition):
    for name, text in edition.items():
        path = make_exercises.EXERCISES_DIR / name
        assert path.is_file() and path.read_text() == text, (
            f"exercises/{name} is not what make_exercises.py writes from the solution: run "
            "python make_exercises.py (exercises/ is never edited by hand)")


def test_no_solution_line_survives_in_the_module(edition):
    exercise = edition[make_exercises.MODULE]
    regions = make_exercises.solution_regions(SOLUTION_MODULE)
    inside = {i for region in regions for i in range(region.begin, region.end + 1)}
    given = {line.strip() for i, line in enumerate(SOLUTION_MODULE.splitlines())
             if i not in inside}
    exercise_lines = {line.strip() for line in exercise.splitlines()}
    functions = {node.name: ast.get_source_segment(exercise, node)
                 for node in ast.parse(exercise).body if isinstance(node, ast.FunctionDef)}
    owners = [node.name for region in regions for node in ast.parse(SOLUTION_MODULE).body
              if isinstance(node, ast.FunctionDef)
              and node.lineno <= region.begin + 1 <= node.end_lineno]
    assert owners == ["rnn_model", "cnn_rnn_model", "deep_rnn_model", "bidirectional_rnn_model",
                      "final_model", "final_model"]  # the final model's arguments and body
    for owner, lines in zip(owners, region_lines(SOLUTION_MODULE)):
        for line in lines:
            assert line not in functions[owner].splitlines(), (owner, line)
            # Lines that the given code shares (keras.Input(...), say) may appear elsewhere.
            assert line in given or line not in exercise_lines, (owner, line)
    assert exercise.count("IMPLEMENTATION: ") == len(regions) + 1  # and one in the header
    assert make_exercises.BEGIN not in exercise and make_exercises.END not in exercise


def test_no_answer_or_output_survives_in_the_notebook(edition):
    exercise = nbformat.reads(edition["vui_speech_recognition.ipynb"], as_version=4)
    answers = [cell for cell in SOLUTION_NOTEBOOK.cells
               if make_exercises.ANSWER_TAG in cell.metadata.get("tags", [])]
    assert len(answers) == 3
    text = "\n".join(cell.source for cell in exercise.cells)
    for answer in answers:
        for line in answer.source.splitlines()[1:]:
            assert not line.strip() or line not in text, line
    for cell in SOLUTION_NOTEBOOK.cells:
        for lines in region_lines(cell.source) if cell.cell_type == "code" else []:
            assert not set(lines) & set(text.splitlines()), lines
    assert [cell.source for cell in exercise.cells
            if make_exercises.ANSWER_TAG in cell.metadata.get("tags", [])] == ["**Answer:**"] * 3
    code = [cell for cell in exercise.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert all("execution" not in cell.metadata for cell in exercise.cells)
    assert set(exercise.metadata) == {"kernelspec", "exercise_edition"}  # nothing of a run
    checks = [cell.source for cell in code if cell.id.startswith("exercise-check-")]
    assert checks == [f"exercise_checks.check_model({name})"
                      for name in ("model_1", "model_2", "model_3", "model_4", "model_end")]


def test_the_edition_does_not_give_the_reference_final_model_away(edition):
    """Neither the learner's notebook nor the VUI part of their module describes the reference
    final model (its strides, layers, sizes, dropout) or quotes its results."""
    vui_part = edition[make_exercises.MODULE].split("# Digit track")[0]
    text = "\n".join([vui_part.lower()] + [
        cell.source.lower() for cell in
        nbformat.reads(edition["vui_speech_recognition.ipynb"], as_version=4).cells])
    for phrase in ("stride 3", "stride of 3", "two bidirectional", "2 bidirectional",
                   "128 units", "units=128", "units 128", "dropout 0.2", "dropout=0.2",
                   "dropout (0.2", "final model's two convolutions", "shipped final model"):
        assert phrase not in text, phrase
    final_cells = [cell for cell in SOLUTION_NOTEBOOK.cells if cell.cell_type == "code"
                   and cell.id in ("final-train", "decoders", "loso-design", "loso", "loso-b",
                                  "predictions")]
    printed = "".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                      for cell in final_cells for output in cell.get("outputs", []))
    results = set(re.findall(r"\b\d+\.\d{2}\b", printed)) - {"0.00", "100.00"}
    assert len(results) > 5 or not printed  # the solution's run printed results to look for
    assert not [number for number in results if number in text]


def test_putting_the_solution_back_gives_the_solution(edition):
    header_lines = make_exercises.MODULE_HEADER.count("\n")
    exercise_module = edition[make_exercises.MODULE].split("\n", header_lines)[-1]
    assert put_solution_back(exercise_module, SOLUTION_MODULE) == SOLUTION_MODULE

    exercise = nbformat.reads(edition["vui_speech_recognition.ipynb"], as_version=4)
    restored = notebook_with_solution_back(exercise, SOLUTION_NOTEBOOK)
    assert [(c.cell_type, c.source, c.metadata.get("tags")) for c in restored] == [
        (c.cell_type, c.source, c.metadata.get("tags")) for c in SOLUTION_NOTEBOOK.cells]


def test_regions_in_a_small_notebook_and_module():
    cells = [
        nbformat.v4.new_markdown_cell("# Title", id="title"),
        nbformat.v4.new_code_cell('QUICK = False\nRESULTS = "quick/" if QUICK else ""', id="p"),
        nbformat.v4.new_code_cell("from sample_models import rnn_model", id="setup"),
        nbformat.v4.new_code_cell("x = 1\n### BEGIN SOLUTION: set y to twice x\ny = 2 * x\n"
                                  "### END SOLUTION\nprint(x, y)", id="code"),
        nbformat.v4.new_code_cell("model_1 = rnn_model(8, 4, 'relu')", id="build"),
        nbformat.v4.new_markdown_cell("**Answer:** because.", id="answer",
                                      metadata={"tags": ["answer"]}),
    ]
    solution = nbformat.v4.new_notebook(cells=cells)
    solution.cells[3].outputs = [nbformat.v4.new_output("stream", text="1 2\n")]
    exercise = make_exercises.exercise_notebook(solution, ["rnn_model"])
    assert [cell.id for cell in exercise.cells] == [
        "title", "exercise-intro", "p", "setup", "code", "exercise-implement-rnn_model",
        "build", "exercise-check-rnn_model", "answer", "exercise-hand-in", "exercise-show-code"]
    assert exercise.cells[-1].source == "exercise_checks.show_code()"
    assert exercise.cells[2].source.endswith(make_exercises.RESULTS[1])
    assert exercise.cells[3].source.endswith("exercise_checks.check_setup()")
    assert exercise.cells[4].source == ('x = 1\nraise NotImplementedError("IMPLEMENTATION: set y '
                                        'to twice x")\nprint(x, y)')
    assert exercise.cells[4].outputs == [] and exercise.cells[-3].source == "**Answer:**"
    restored = notebook_with_solution_back(exercise, solution)
    assert [c.source for c in restored] == [c.source for c in cells]

    module = ("def f(a,\n      ### BEGIN SOLUTION: your arguments\n      b=2,\n"
              "      ### END SOLUTION\n      ):\n    ### BEGIN SOLUTION: " + "return a sum " * 9
              + "\n    return a + b\n    ### END SOLUTION\n")
    stripped = make_exercises.strip_solutions(module)
    assert stripped.splitlines()[1] == "      # IMPLEMENTATION: your arguments"
    assert max(len(line) for line in stripped.splitlines()) <= make_exercises.WIDTH
    namespace = {}
    exec(stripped, namespace)
    with pytest.raises(NotImplementedError, match="IMPLEMENTATION: return a sum return"):
        namespace["f"](1)
    assert put_solution_back(stripped, module) == module


@pytest.mark.parametrize("source, problem", [
    ("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION\n", "instructions after"),
    ("### BEGIN SOLUTION: a\n### BEGIN SOLUTION: b\n### END SOLUTION\n", "inside another"),
    ("### BEGIN SOLUTION: a\nx = 2\n", "without its '### END SOLUTION'"),
    ("x = 2\n### END SOLUTION\n", "without its '### BEGIN SOLUTION'"),
    ("x = 2  ### BEGIN SOLUTION: a\n### END SOLUTION\n", "alone on its line"),
])
def test_bad_markers_are_refused_with_the_line(source, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        make_exercises.solution_regions(source)


def test_a_learners_changes_are_kept(tmp_path, edition):
    written = make_exercises.write_edition(tmp_path)
    assert written == {name: "written" for name in edition}
    assert make_exercises.write_edition(tmp_path) == {name: "up to date" for name in edition}
    notebook = tmp_path / "vui_speech_recognition.ipynb"
    module = tmp_path / make_exercises.MODULE
    notebook.write_text(notebook.read_text().replace('"**Answer:**"', '"**Answer:** mine"', 1))
    stale = module.read_text().replace("Model 0 shows the pattern", "Model 0 shows it")
    module.write_text(make_exercises.fingerprinted(stale))  # as an older edition was written
    assert make_exercises.write_edition(tmp_path) == {make_exercises.MODULE: "written",
                                                      notebook.name: "kept"}
    assert "**Answer:** mine" in notebook.read_text()
    assert module.read_text() == edition[make_exercises.MODULE]


# ------------------------------------------------------------------ the self-checks

def test_reference_data_is_what_the_solution_builds():
    exercised = make_exercises.exercised_functions(SOLUTION_MODULE)
    assert list(exercise_checks.REFERENCE) == ["simple_rnn_model"] + exercised
    for name, (_, builds) in exercise_checks.REFERENCE.items():
        for arguments, reference in builds:
            model = getattr(sample_models, name)(**arguments)
            assert [(type(layer).__name__, layer.count_params())
                    for layer in model.layers[1:]] == reference, (name, arguments)


def solution_models(input_dim=81):
    return [sample_models.rnn_model(input_dim, 200, "relu"),
            sample_models.cnn_rnn_model(input_dim, 200, 11, 2, "valid", 200),
            sample_models.deep_rnn_model(input_dim, 200, 2),
            sample_models.bidirectional_rnn_model(input_dim, 200),
            sample_models.final_model(input_dim)]


def test_checks_pass_on_every_solution_model(capsys):
    for model in solution_models():
        start = time.perf_counter()
        exercise_checks.check_model(model)
        assert time.perf_counter() - start < 30, model.name
    printed = capsys.readouterr().out
    for title in ("Model 1", "Model 2", "Model 3", "Model 4", "The final model"):
        assert f"{title} (" in printed and "passes its checks" in printed
    assert "fell from" in printed and "as output_length says" in printed


def named(name):
    """Decorator: a wrong factory that the checks take for ``sample_models.<name>``."""
    def decorate(function):
        function.__name__ = name
        return sample_models.recorded(function)
    return decorate


@named("rnn_model")
def gru_with_keras_defaults(input_dim, units, activation, output_dim=29):
    inputs = keras.Input((None, input_dim), name="the_input")
    x = layers.GRU(units, activation=activation, return_sequences=True)(inputs)
    x = layers.BatchNormalization()(x)
    return sample_models._model(inputs, sample_models._output_layers(x, output_dim), "m1")


@named("rnn_model")
def no_batch_norm(input_dim, units, activation, output_dim=29):
    inputs = keras.Input((None, input_dim), name="the_input")
    x = layers.GRU(units, activation=activation, return_sequences=True, reset_after=False)(inputs)
    return sample_models._model(inputs, sample_models._output_layers(x, output_dim), "m1")


def model_2_layers(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                   output_dim):
    """``(inputs, probabilities)`` of Model 2's layers, right as far as they go."""
    inputs = keras.Input((None, input_dim), name="the_input")
    x = layers.Conv1D(filters, kernel_size, strides=conv_stride, padding=conv_border_mode,
                      activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.SimpleRNN(units, activation="relu", return_sequences=True)(x)
    x = layers.BatchNormalization()(x)
    return inputs, sample_models._output_layers(x, output_dim)


@named("cnn_rnn_model")
def frames_not_counted(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                       output_dim=29):
    return sample_models._model(*model_2_layers(input_dim, filters, kernel_size, conv_stride,
                                                conv_border_mode, units, output_dim), "m2")


@named("deep_rnn_model")
def always_two_layers(input_dim, units, recur_layers, output_dim=29):
    inputs = x = keras.Input((None, input_dim), name="the_input")
    for _ in range(2):
        x = layers.GRU(units, return_sequences=True, reset_after=False)(x)
        x = layers.BatchNormalization()(x)
    return sample_models._model(inputs, sample_models._output_layers(x, output_dim), "m3")


@named("bidirectional_rnn_model")
def summed_directions(input_dim, units, output_dim=29):
    inputs = keras.Input((None, input_dim), name="the_input")
    real = sample_models.RealFrames()(inputs)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True, reset_after=False),
                             merge_mode="sum")(inputs, mask=real)
    return sample_models._model(inputs, sample_models._output_layers(x, output_dim), "m4")


@named("final_model")
def model_1_again(input_dim, units=32, output_dim=29):
    inputs = keras.Input((None, input_dim), name="the_input")
    x = layers.GRU(units, return_sequences=True, reset_after=False)(inputs)
    x = layers.BatchNormalization()(x)
    return sample_models._model(inputs, sample_models._output_layers(x, output_dim), "final")


def final_design(input_dim, units, output_dim, input_name="the_input", last="softmax",
                 cut=None):
    """A design unlike Models 0-4: BiGRU -> BN -> Dense -> [``cut``] -> ``last``."""
    inputs = keras.Input((None, input_dim), name=input_name)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True))(inputs)
    x = layers.Dense(output_dim)(layers.BatchNormalization()(x))
    if cut:
        x = layers.Lambda(cut)(x)
    return sample_models._model(inputs, layers.Activation(last)(x), "final")


@named("final_model")
def unnamed_input(input_dim, units=32, output_dim=29):
    return final_design(input_dim, units, output_dim, input_name=None)


@named("final_model")
def relu_instead_of_softmax(input_dim, units=32, output_dim=29):
    return final_design(input_dim, units, output_dim, last="relu")


@named("final_model")
def gradients_stopped(input_dim, units=32, output_dim=29):
    return final_design(input_dim, units, output_dim, cut=keras.ops.stop_gradient)


@named("final_model")
def zero_gradients(input_dim, units=32, output_dim=29):
    return final_design(input_dim, units, output_dim, cut=lambda x: 0 * x)


@named("rnn_model")
def activation_ignored(input_dim, units, activation, output_dim=29):
    inputs = keras.Input((None, input_dim), name="the_input")
    x = layers.GRU(units, activation="relu", return_sequences=True, reset_after=False)(inputs)
    x = layers.BatchNormalization()(x)
    return sample_models._model(inputs, sample_models._output_layers(x, output_dim), "m1")


@named("cnn_rnn_model")
def border_mode_ignored(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                        output_dim=29):
    """Right for the notebook's 'valid' padding, wrong for 'same'."""
    return sample_models._model(
        *model_2_layers(input_dim, filters, kernel_size, conv_stride, conv_border_mode, units,
                        output_dim), "m2",
        lambda frames: sample_models.cnn_output_length(frames, kernel_size, "valid", conv_stride))


@named("rnn_model")
def no_softmax(input_dim, units, activation, output_dim=29):
    inputs = keras.Input((None, input_dim), name="the_input")
    x = layers.GRU(units, activation=activation, return_sequences=True, reset_after=False)(inputs)
    x = layers.BatchNormalization()(x)
    return sample_models._model(inputs, layers.Dense(output_dim)(x), "m1")


@pytest.mark.parametrize("factory, arguments, message", [
    (activation_ignored, (81, 200, "relu"),
     r"Model 1 built as rnn_model\(.*activation='tanh'.*\) has recurrent layers with relu "
     r"activation, not tanh: pass the function's activation argument to the GRU"),
    (border_mode_ignored, (81, 200, 11, 2, "valid", 200),
     r"Model 2 built as cnn_rnn_model\(.*conv_stride=1, conv_border_mode='same'.*\) returns 137 "
     r"frames for 137 input frames, but its output_length\(137\) says 127"),
    (no_softmax, (81, 200, "relu"),
     r"layer 4 is missing where the reference has Activation \(the softmax: "
     r"layers.Activation\(\"softmax\"\)"),
    (gru_with_keras_defaults, (81, 200, "relu"),
     r"Model 1 built as rnn_model\(input_dim=161, units=200, activation='relu'\): layer 1, GRU "
     r"'gru\w*', has 217,800 parameters where the reference has 217,200\. A GRU with Keras's "
     r"default reset_after=True has 3 x units more"),
    (no_batch_norm, (81, 200, "relu"),
     r"has 3 layers after its input \(GRU -> Dense -> Activation\) but the reference has 4 "
     r"\(GRU -> BatchNormalization -> Dense -> Activation\): layer 2 is Dense where the "
     r"reference has BatchNormalization"),
    (frames_not_counted, (81, 200, 11, 2, "valid", 200),
     r"Model 2 returns 64 frames for 137 input frames, but its output_length\(137\) says 137\. "
     r"The CTC loss trusts output_length"),
    (always_two_layers, (81, 200, 2),
     r"Model 3 built as deep_rnn_model\(input_dim=161, units=200, recur_layers=1\) has 6 layers"),
    (summed_directions, (81, 200),
     r"layer 3, Dense 'time_dense', has 5,829 parameters where the reference has 11,629\. "
     r"Check the layer's size"),
    (model_1_again, (81,), r"The final model has the same layers as Model 1 \(rnn_model\)"),
    (unnamed_input, (81,), r"The final model's input is named "
     r"'input_layer\w*', but the training batches call it 'the_input'"),
    (model_1_again, (81, 64), r"The final model was built with units=64, not with final_model's "
                              r"defaults"),
    (relu_instead_of_softmax, (81,), r"outputs are not probabilities .* end the model with a "
                                     r"softmax"),
    (gradients_stopped, (81,), r"The final model could not be trained with the CTC loss on a "
                               r"fixed batch \(ValueError: No gradients provided for any "
                               r"variable\.\)\. Check that every layer is connected"),
    (zero_gradients, (81,), r"The final model's CTC loss did not fall in 3 training steps on "
                            r"a fixed batch \(from [\d.]+ to [\d.]+\)\. Check that every "
                            r"layer is connected"),
])
def test_checks_fail_on_a_wrong_model_saying_what_is_wrong(factory, arguments, message,
                                                           monkeypatch):
    monkeypatch.setattr(sample_models, factory.__name__, factory)
    with pytest.raises(CheckFailed, match=message):
        exercise_checks.check_model(factory(*arguments))


def test_checks_name_what_they_were_given():
    with pytest.raises(CheckFailed, match="wants the model that a factory of sample_models.py "
                                          "returned .* not str"):
        exercise_checks.check_model("model_1")
    with pytest.raises(CheckFailed, match="essay_cnn has no self-check"):
        exercise_checks.check_model(sample_models.essay_cnn())


def test_setup_check_refuses_the_solutions_models_and_names_the_cause(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.chdir(PROJECT_DIR)  # a kernel started in the project folder finds the solution
    with pytest.raises(CheckFailed, match=r"kernel runs in .*, not in the exercise notebook's "
                                          r"folder, so it imported .*sample_models\.py"):
        exercise_checks.check_setup()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckFailed, match="Start the kernel in the notebook's own folder"):
        exercise_checks.check_setup()
    # The kernel runs beside the learner's file, but PYTHONPATH put the project first.
    (tmp_path / "sample_models.py").write_text("# the learner's file\n")
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_DIR))
    with pytest.raises(CheckFailed, match=r"imported the solution, .* not the sample_models.py "
                                          r"beside it .*PYTHONPATH names .*remove it"):
        exercise_checks.check_setup()
    monkeypatch.setattr(exercise_checks.sample_models, "__file__",
                        str(tmp_path / "sample_models.py"))
    exercise_checks.check_setup()
    assert "The models come from sample_models.py in this notebook's folder" in \
        capsys.readouterr().out


# --------------------------------------------------- the edition in a real kernel

def execute(notebook, folder, timeout=600, **environment):
    """Run ``notebook`` in a fresh kernel working in ``folder``, as Jupyter runs it.

    ipykernel shows what C libraries write to file descriptor 2 in the cell's output,
    as a learner sees it, except when $PYTEST_CURRENT_TEST is set: the kernel gets
    our environment without it, plus ``environment``.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute(
        env={**env, **environment})
    return notebook


def texts(cell):
    """What the cell printed to stdout."""
    return "".join(output.get("text", "") for output in cell.outputs
                   if output.get("name") == "stdout")


def test_a_learners_saved_edits_count_without_a_restart(tmp_path, edition):
    exercise = edition[make_exercises.MODULE]
    (tmp_path / make_exercises.MODULE).write_text(exercise)
    solved = put_solution_back(exercise, SOLUTION_MODULE)
    cells = [
        "from sample_models import rnn_model\n" + make_exercises.SETUP,
        "try:\n    rnn_model(13, 8, 'relu')\nexcept NotImplementedError as error:\n"
        "    print(error)",
        f"import pathlib, time\ntime.sleep(0.05)\npathlib.Path('sample_models.py').write_text("
        f"{solved!r})",
        "print(rnn_model(13, 8, 'relu').count_params())",
    ]
    notebook = execute(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells]), tmp_path, timeout=300)
    outputs = [texts(cell) for cell in notebook.cells]
    assert outputs[0].startswith("The models come from sample_models.py in this notebook's "
                                 "folder")
    assert outputs[1].startswith("IMPLEMENTATION: build Model 1 as the docstring says")
    assert outputs[3] == "821\n"  # GRU 3 * (13 * 8 + 8 * 8 + 8), norm 4 * 8, dense 8 * 29 + 29


def test_the_exercise_notebook_runs_with_the_solution_put_back(tmp_path, edition):
    exercise = edition[make_exercises.MODULE]
    (tmp_path / make_exercises.MODULE).write_text(put_solution_back(exercise, SOLUTION_MODULE))
    notebook = nbformat.reads(edition["vui_speech_recognition.ipynb"], as_version=4)
    for cell in notebook.cells:  # this run's histories and weights go to its own folder
        cell.source = cell.source.replace(make_exercises.RESULTS[1],
                                          f'RESULTS = "{tmp_path}/results/"')
    start = time.perf_counter()
    try:
        execute(notebook, tmp_path, QUICK="1")
    finally:  # kept for a look at every output
        nbformat.write(notebook, tmp_path / "executed.ipynb")
    print(f"the exercise notebook ran in {time.perf_counter() - start:.0f} s")
    checks = [cell for cell in notebook.cells if cell.id.startswith("exercise-check-")]
    assert len(checks) == 5
    for cell in checks:  # a grader reads these: plain sentences, no logs, warnings or paths
        assert [output.get("name") for output in cell.outputs] == ["stdout"], cell.outputs
        assert "passes its checks" in texts(cell) and str(tmp_path) not in texts(cell)
    setup = next(cell for cell in notebook.cells if make_exercises.SETUP in cell.source)
    assert "The models come from sample_models.py in this notebook's folder" in texts(setup)
    assert all(output.get("name") != "stderr" for output in setup.outputs), setup.outputs
    assert (tmp_path / "results" / "model_end.weights.h5").is_file()
    # What the learner hands in: the exported page holds the code they wrote.
    page, _ = HTMLExporter().from_notebook_node(notebook)
    for lines in region_lines(SOLUTION_MODULE):
        for line in lines[:3]:
            assert html.escape(line, quote=False) in page or html.escape(line) in page, line
