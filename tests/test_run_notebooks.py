"""run_notebooks.py: notebooks executed in place by a real kernel, exported to HTML."""

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

import run_notebooks


def write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A title")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)


def test_execute_in_place_and_export_html(tmp_path, capsys):
    path = tmp_path / "tiny.ipynb"
    write_notebook(path, "import os\nprint('working in', os.path.basename(os.getcwd()))",
                   "print(6 * 7)")
    run_notebooks.execute(path)
    executed = nbformat.read(path, as_version=4)
    outputs = [cell.outputs[0]["text"] for cell in executed.cells if cell.cell_type == "code"]
    assert outputs == [f"working in {tmp_path.name}\n", "42\n"]
    assert "    42\n" in capsys.readouterr().out  # the cell's print is echoed as progress
    report = run_notebooks.export_html(path, tmp_path / "reports")
    assert report.name == "tiny.html" and "42" in report.read_text()


def test_a_failing_cell_stops_and_keeps_the_outputs_so_far(tmp_path):
    path = tmp_path / "broken.ipynb"
    write_notebook(path, "print('before')", "1 / 0", "print('after')")
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        run_notebooks.execute(path)
    cells = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    assert cells[0].outputs[0]["text"] == "before\n"
    assert cells[1].outputs[0]["ename"] == "ZeroDivisionError" and cells[2].outputs == []


def test_a_saved_notebook_shows_the_last_state_of_its_progress_bars_and_no_tensorflow_log(
        tmp_path):
    path = tmp_path / "clean.ipynb"
    write_notebook(path,
                   "from plumbing import start_tensorflow\nstart_tensorflow(seed=0)\n"
                   "import tensorflow as tf\nprint(float(tf.reduce_sum(tf.ones(3))))",
                   "import time\nfrom plumbing import progress\n"
                   "for _ in progress(range(3), desc='steps', mininterval=0):\n"
                   "    time.sleep(0.05)")
    run_notebooks.execute(path)
    start, bar = [cell for cell in nbformat.read(path, as_version=4).cells
                  if cell.cell_type == "code"]
    assert [(output["name"], output["text"]) for output in start.outputs] == [("stdout", "3.0\n")]
    assert len(bar.outputs) == 1 and bar.outputs[0]["name"] == "stdout"
    text = bar.outputs[0]["text"]
    assert "\r" not in text and text.startswith("steps: 100%") and "3/3" in text, text
