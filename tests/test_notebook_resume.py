"""The VUI notebook's promise: after a kernel restart, the parameters cell and the setup
cell are enough to go on at any later cell, and running a cell twice changes nothing.

A real kernel runs the notebook's own cells (found by their source, in quick mode, with
results in a folder of their own): the setup, the first models' building and training
cells; then a fresh kernel (as after a restart) runs the parameters and setup cells, the
building cells, the training cell again and the comparison cells, each twice.
"""

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

import plumbing

NOTEBOOK = plumbing.PROJECT_DIR / "notebooks" / "vui_speech_recognition.ipynb"
RESULTS = "quick/resume-test/"
# The kernel writes under the project's results folder, not under the temporary
# plumbing.RESULTS_DIR that conftest gives this test process.
KERNEL_RESULTS = plumbing.PROJECT_DIR / "results" / RESULTS


def cell(notebook, start):
    """The code cell whose source starts with ``start``."""
    found = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(start)]
    assert len(found) == 1, f"{len(found)} code cells of {NOTEBOOK.name} start with {start!r}"
    return found[0]


def run_in_a_fresh_kernel(cells):
    """Execute copies of ``cells`` in order in one new kernel; return the executed copies."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.from_dict(dict(c, outputs=[], execution_count=None)) for c in cells]
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return notebook.cells


def text(executed):
    return "".join(output.get("text", "") for output in executed.outputs)


@pytest.fixture
def notebook(monkeypatch):
    monkeypatch.setenv("QUICK", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = cell(notebook, "import os")
    assert 'RESULTS = "quick/" if QUICK else ""' in parameters.source
    parameters.source = parameters.source.replace('RESULTS = "quick/" if QUICK else ""',
                                                  f"RESULTS = {RESULTS!r}")
    shutil.rmtree(KERNEL_RESULTS, ignore_errors=True)
    yield notebook
    shutil.rmtree(KERNEL_RESULTS, ignore_errors=True)


def test_after_a_restart_the_parameters_and_setup_cells_are_enough_to_go_on(notebook):
    parameters, setup = cell(notebook, "import os"), cell(notebook, "from plumbing import")
    builds = [cell(notebook, f"model_{n} = ") for n in range(3)]
    train = cell(notebook, 'train_in_workers({"model_0": model_0')
    compare = cell(notebook, "plot_loss_curves(load_histories(list(MODELS)[:7]")
    compare_all = cell(notebook, "plot_loss_curves(load_histories(list(MODELS), RESULTS)")
    first = run_in_a_fresh_kernel([parameters, setup, *builds, train])
    assert "trained now" in text_or_table(first[-1])
    written = {path: path.stat().st_mtime_ns for path in KERNEL_RESULTS.glob("*.pickle")}
    assert len(written) == 3

    after_restart = run_in_a_fresh_kernel(
        [parameters, setup, *builds, train, compare, compare, compare_all, compare_all])
    retrain, *comparisons = after_restart[5:]
    assert {path: path.stat().st_mtime_ns for path in KERNEL_RESULTS.glob("*.pickle")} == written
    # the returned table, not the progress bar; its first block of columns (pandas wraps it)
    header, *rows = table(retrain).split("\n\n")[0].splitlines()
    assert header.split()[:3] == ["epochs", "trained", "now"], header
    assert [row.split()[:3] for row in rows] == [[f"model_{n}", "2", "0"] for n in range(3)], rows
    for executed in comparisons:
        assert "not trained yet (run their training cells): model_3, model_4, model_5, model_6" \
            in text(executed), text(executed)
        assert any("image/png" in output.get("data", {}) for output in executed.outputs)
    # the same cell run twice shows the same thing (no model added twice)
    assert text(comparisons[0]) == text(comparisons[1])
    assert text(comparisons[2]) == text(comparisons[3])
    assert "model_end" in text(comparisons[2])


def table(executed):
    """The plain-text form of the table a cell returned."""
    return "".join(output.get("data", {}).get("text/plain", "") for output in executed.outputs)


def text_or_table(executed):
    """What a cell printed, or the plain-text form of the table it returned."""
    return text(executed) + table(executed)
