"""Execute notebooks top to bottom in place and export each one to HTML.

    python run_notebooks.py notebooks/*.ipynb [--reports reports]

Each notebook runs in a fresh kernel from its own folder (as Jupyter runs it),
with a progress bar over its code cells and the time each took; the executed
notebook replaces the original and ``reports/<name>.html`` is written for a
grader. A cell that fails stops the run with the cell's number and error, and
the notebook is saved with the outputs it had up to there. Every path is checked
first: a missing file or one that is not a notebook stops the command before
anything runs, with one line and exit status 2.
"""

import sys
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CoalesceStreamsPreprocessor
from tqdm import tqdm

from plumbing import CommandParser

PROG = "run_notebooks.py"


class EchoingClient(NotebookClient):
    """A notebook client that also prints what the cells print (e.g. Keras's epoch lines)."""

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            for line in msg["content"]["text"].splitlines():
                if line.strip():
                    tqdm.write(f"    {line}")
        return super().output(outs, msg, display_id, cell_index)


def execute(path):
    """Run the notebook at ``path`` in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    progress = tqdm(total=code_cells, desc=path.name, unit="cell")
    finished = threading.Event()

    def tick():  # keep the elapsed time moving during long cells
        while not finished.wait(5):
            progress.refresh()

    def started(cell, cell_index):
        if cell.cell_type == "code" and cell.source.strip():
            progress.set_postfix_str(f"cell {cell_index}: {cell.source.strip().splitlines()[0][:40]}")

    client = EchoingClient(notebook, timeout=None, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}},
                           on_cell_start=started, on_cell_executed=lambda **_: progress.update())
    threading.Thread(target=tick, daemon=True).start()
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        finished.set()
        progress.close()
        # One stream output per cell, with progress bars' carriage returns folded into
        # their last state, as a reader would have seen them.
        CoalesceStreamsPreprocessor().preprocess(notebook, {})
        nbformat.write(notebook, path)
    return time.perf_counter() - start


def export_html(path, reports):
    """Write ``reports/<notebook name>.html`` with every output embedded; return its path."""
    body, _ = HTMLExporter().from_filename(str(path))
    reports.mkdir(parents=True, exist_ok=True)
    target = reports / f"{path.stem}.html"
    target.write_text(body, encoding="utf-8")
    return target


def check_notebook(path):
    """Refuse a path that is not a notebook file, before any notebook runs.

    Raises:
        ValueError: naming the path and what to pass instead.
    """
    if not path.is_file():
        raise ValueError(f"{path}: {'not a file' if path.exists() else 'no such file'}: pass "
                         "the notebooks to run, e.g. notebooks/*.ipynb.")
    try:
        nbformat.validate(nbformat.read(path, as_version=4))
    except Exception as error:  # nbformat raises many kinds for a file that is no notebook
        reason = str(error).strip().splitlines()[0][:120] or type(error).__name__
        raise ValueError(f"{path} is not a Jupyter notebook ({reason}): pass .ipynb files "
                         "saved by Jupyter.") from None


def main(argv=None):
    """Command-line entry point (see the module docstring); returns the exit status."""
    parser = CommandParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    try:
        for path in args.notebooks:
            check_notebook(path)
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    for path in args.notebooks:
        try:
            seconds = execute(path)
        except CellExecutionError as error:
            raise SystemExit(f"{path} failed; its outputs up to the failing cell are saved.\n"
                             f"{error}") from None
        report = export_html(path, args.reports)
        print(f"{path}: executed in {seconds / 60:.1f} min, report {report}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
