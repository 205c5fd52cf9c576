"""Write the learner's edition of the VUI track into exercises/, from the solution.

    python make_exercises.py

The solution, ``sample_models.py`` and ``notebooks/vui_speech_recognition.ipynb``,
is the single source of truth. This command writes from it:

- ``exercises/sample_models.py``: the region between a line ``### BEGIN SOLUTION:
  <instructions>`` and a line ``### END SOLUTION`` becomes ``raise
  NotImplementedError("IMPLEMENTATION: <instructions>")``, or, for a region
  inside brackets (a function's arguments), the comment ``# IMPLEMENTATION:
  <instructions>``. The rest of the module stays as it is.
- ``exercises/vui_speech_recognition.ipynb``: code cells lose their solution
  regions in the same way, and their outputs and execution counts; markdown
  cells tagged ``answer`` become an empty "**Answer:**" cell; results go to
  ``results/exercises/`` instead of the solution's ``results/``. The setup cell
  gains IPython's autoreload of ``sample_models`` (a learner's edits count from
  the next cell run) and a check that the kernel imports the ``sample_models.py``
  beside the notebook. Cells are added: what to do and what to hand in (after the
  title); around each cell that builds a model of a factory with a solution region,
  an IMPLEMENTATION note before it and ``exercise_checks.check_model(...)`` after it;
  and at the end ``exercise_checks.show_code()``, which prints the learner's code
  into the page they hand in.

Each file carries a fingerprint of what was written. A file whose content no
longer matches it was changed after it was written, by a learner working in
``exercises/``, and is kept: move it away (or delete it) to get a fresh copy.

Why not nbgrader: its ``generate_assignment`` works inside a course directory
(``source/<assignment>/`` to ``release/``) with a gradebook database, wants every
solution cell marked in the notebook's metadata, and copies ``.py`` files as they
are, so it would not clear the model factories, which are the exercises here.
We keep its delimiters, with the instructions after a colon on the BEGIN line
(nbgrader wants the delimiter alone there).
"""

import argparse
import ast
import copy
import hashlib
import io
import re
import sys
import tokenize
from collections import namedtuple

import nbformat

from plumbing import PROJECT_DIR, CommandParser, atomic_path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ANSWER_TAG = "answer"
MODULE = "sample_models.py"
NOTEBOOK = "notebooks/vui_speech_recognition.ipynb"
EXERCISES_DIR = PROJECT_DIR / "exercises"
# The solution's results sub-folder, and the edition's own.
RESULTS = ('RESULTS = "quick/" if QUICK else ""',
           'RESULTS = "exercises/quick/" if QUICK else "exercises/"')
WIDTH = 99  # longest line written into the exercise module
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
FINGERPRINT = re.compile(r"(edition-fingerprint\W+)([0-9a-f]{16})")

MODULE_HEADER = """\
# Exercise edition of sample_models.py: write your code in place of each
# `raise NotImplementedError("IMPLEMENTATION: ...")` and each `# IMPLEMENTATION:` line.
# Written by `python make_exercises.py` from the solution, ../sample_models.py (instructors:
# edit that one and run the command again). edition-fingerprint: 0000000000000000
"""

INTRO = """\
**Exercise edition.** You write the models of this notebook yourself:

1. Before each model, an **IMPLEMENTATION** note names the function to write in
   `sample_models.py`, the file beside this notebook: replace its
   `raise NotImplementedError("IMPLEMENTATION: ...")` with your code. Save the file; the next
   cell you run uses it (no restart needed).
2. After the cell that builds a model, run the check cell: `exercise_checks.check_model` builds
   your function with the original project's settings and tells you in words what differs
   from the reference (layers, parameters, output frames, whether a few training steps lower
   the CTC loss).
3. Write your answers in the **Answer:** cells (double-click one to edit it).

This edition keeps its histories and weights in `results/exercises/` (`results/exercises/quick/`
with `QUICK=1`), apart from the finished notebook's.

**What to hand in:** one file, `vui_speech_recognition.html`. Run every cell from the top, save
the notebook, then export it in this folder: `jupyter nbconvert --to html
vui_speech_recognition.ipynb`. The page holds every output, figure, check and answer, and its
last cell prints the code you wrote in `sample_models.py`, so the grader reads your code beside
its results.
"""

HAND_IN = """## Hand-in: the code you wrote

The functions you wrote in `sample_models.py`, as they were when this notebook last ran:"""

SETUP = """\

# Exercise edition: the models come from sample_models.py beside this notebook, reloaded
# whenever you have saved a change to it.
%reload_ext autoreload
%autoreload 1
%aimport sample_models
import exercise_checks

exercise_checks.check_setup()"""

Region = namedtuple("Region", "begin end instructions in_brackets")


def solution_regions(source):
    """The solution regions of Python source code, in order.

    Args:
        source: the text of a module or code cell.

    Returns:
        A list of ``Region(begin, end, instructions, in_brackets)``: ``begin`` and
        ``end`` are the 0-based line numbers of the two marker lines,
        ``instructions`` the text after ``BEGIN SOLUTION:``, and ``in_brackets``
        whether the region lies inside brackets (e.g. a function's arguments).

    Raises:
        ValueError: markers that are unpaired, nested, share a line with code,
            or a BEGIN marker without instructions.
    """
    regions, depth, begin = [], 0, None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.OP and token.string in ("(", "[", "{"):
            depth += 1
        elif token.type == tokenize.OP and token.string in (")", "]", "}"):
            depth -= 1
        elif token.type == tokenize.COMMENT and token.string.startswith((BEGIN, END)):
            line = token.start[0] - 1
            if token.line.strip() != token.string.strip():
                raise ValueError(f"line {line + 1}: a solution marker must be alone on its line.")
            if token.string.startswith(BEGIN):
                instructions = token.string[len(BEGIN):]
                if begin is not None:
                    raise ValueError(f"line {line + 1}: a solution region inside another one.")
                if not instructions.startswith(": ") or not instructions[2:].strip():
                    raise ValueError(f"line {line + 1}: write the learner's instructions after "
                                     f"'{BEGIN}: '.")
                begin = (line, instructions[2:].strip(), depth > 0)
            elif begin is None:
                raise ValueError(f"line {line + 1}: '{END}' without its '{BEGIN}'.")
            elif token.string.strip() != END:
                raise ValueError(f"line {line + 1}: nothing may follow '{END}'.")
            else:
                regions.append(Region(begin[0], line, begin[1], begin[2]))
                begin = None
    if begin is not None:
        raise ValueError(f"line {begin[0] + 1}: '{BEGIN}' without its '{END}'.")
    return regions


def placeholder(indent, region):
    """The lines that stand for a solution region in the exercise edition."""
    text = f"IMPLEMENTATION: {region.instructions}"
    if region.in_brackets:
        return [f"{indent}# {text}\n"]
    text = text.replace("\\", "\\\\").replace('"', '\\"')  # inside a "..." literal
    line = f'{indent}raise NotImplementedError("{text}")\n'
    if len(line) <= WIDTH + 1:
        return [line]
    # Each piece is indented 4 more, quoted, and followed by a space or the closing ')'.
    pieces, width = [""], WIDTH - len(indent) - 7
    for word in text.split(" "):
        if pieces[-1] and len(pieces[-1]) + len(word) + 1 > width:
            pieces[-1] += " "
            pieces.append(word)
        else:
            pieces[-1] += f" {word}" if pieces[-1] else word
    return ([f"{indent}raise NotImplementedError(\n"]
            + [f'{indent}    "{piece}"\n' for piece in pieces[:-1]]
            + [f'{indent}    "{pieces[-1]}")\n'])


def strip_solutions(source):
    """``source`` with each solution region replaced by its ``placeholder``."""
    lines = source.splitlines(keepends=True)
    kept, start = [], 0
    for region in solution_regions(source):
        marker = lines[region.begin]
        kept += lines[start:region.begin]
        kept += placeholder(marker[:len(marker) - len(marker.lstrip())], region)
        start = region.end + 1
    text = "".join(kept + lines[start:])
    return text.rstrip("\n") if not source.endswith("\n") else text


def exercised_functions(source):
    """Names of the top-level functions of a module that hold a solution region, in order."""
    lines = [region.begin + 1 for region in solution_regions(source)]
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)
            and any(node.lineno <= line <= node.end_lineno for line in lines)]


def fingerprinted(text):
    """``text`` with its ``edition-fingerprint`` set to the digest of the rest of it."""
    blank = FINGERPRINT.sub(r"\g<1>" + "0" * 16, text, count=1)
    digest = hashlib.sha256(blank.encode()).hexdigest()[:16]
    return FINGERPRINT.sub(r"\g<1>" + digest, blank, count=1)


def changed_since_written(text):
    """Whether a file of the edition differs from what this command wrote into it."""
    return FINGERPRINT.search(text) is None or fingerprinted(text) != text


def exercise_notebook(notebook, functions):
    """The exercise edition of a solution notebook.

    Args:
        notebook: the solution, an ``nbformat`` v4 notebook (not modified).
        functions: names of the model factories the learner writes; the cells
            that assign a model built by one of them (``model_1 = rnn_model(...)``)
            get an IMPLEMENTATION note before them and a check cell after them.

    Returns:
        A new notebook, cleared of solutions, answers and outputs.
    """
    notebook = copy.deepcopy(notebook)
    # Only what does not change when the solution is run again (no widget state, no
    # language_info with the Python version of that run).
    notebook.metadata = {"kernelspec": notebook.metadata.get("kernelspec", KERNEL)}
    notebook.metadata["exercise_edition"] = {
        "solution": NOTEBOOK, "written_by": "make_exercises.py",
        "edition-fingerprint": "0" * 16}
    builds = re.compile(rf"^(\w+) = ({'|'.join(functions)})\(", re.MULTILINE)
    cells, results_lines, setup_cells, checked = [], 0, 0, set()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "markdown" and ANSWER_TAG in cell.metadata.get("tags", []):
            cell.source = "**Answer:**"
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        cell.outputs, cell.execution_count = [], None
        if BEGIN in cell.source:
            cell.source = strip_solutions(cell.source)
        results_lines += cell.source.count(RESULTS[0])
        cell.source = cell.source.replace(*RESULTS)
        built = builds.search(cell.source)
        if built and built.group(2) in checked:
            built = None  # a factory's note and check go with the first cell that builds it
        if built:
            checked.add(built.group(2))
            model, function = built.groups()
            cells.append(nbformat.v4.new_markdown_cell(
                f"**IMPLEMENTATION:** write `{function}` in `sample_models.py` (beside this "
                "notebook) in place of its `raise NotImplementedError`. Then run the next cell "
                "to build the model and the one after it to check it.",
                id=f"exercise-implement-{function}"))
        cells.append(cell)
        if built:
            cells.append(nbformat.v4.new_code_cell(f"exercise_checks.check_model({model})",
                                                   id=f"exercise-check-{function}"))
        if "from sample_models import" in cell.source:
            setup_cells += 1
            cell.source += "\n" + SETUP
    if results_lines != 1 or setup_cells != 1:
        raise ValueError(f"{NOTEBOOK} needs one line {RESULTS[0]!r} (found {results_lines}) and "
                         f"one cell importing sample_models (found {setup_cells}).")
    cells.insert(1, nbformat.v4.new_markdown_cell(INTRO, id="exercise-intro"))
    cells.append(nbformat.v4.new_markdown_cell(HAND_IN, id="exercise-hand-in"))
    cells.append(nbformat.v4.new_code_cell("exercise_checks.show_code()",
                                           id="exercise-show-code"))
    notebook.cells = cells
    nbformat.validate(notebook)
    return notebook


def edition():
    """The exercise edition: ``{file name in exercises/: text}``, made from the solution."""
    module = (PROJECT_DIR / MODULE).read_text(encoding="utf-8")
    notebook = exercise_notebook(nbformat.read(PROJECT_DIR / NOTEBOOK, as_version=4),
                                 exercised_functions(module))
    return {MODULE: fingerprinted(MODULE_HEADER + strip_solutions(module)),
            "vui_speech_recognition.ipynb": fingerprinted(nbformat.writes(notebook) + "\n")}


def write_edition(out_dir=EXERCISES_DIR):
    """Write the edition into ``out_dir``, keeping files changed since they were written.

    Returns:
        ``{file name: 'written' | 'up to date' | 'kept'}``.
    """
    done = {}
    for name, text in edition().items():
        path = out_dir / name
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == text:
            done[name] = "up to date"
        elif old is not None and changed_since_written(old):
            done[name] = "kept"
        else:
            with atomic_path(path) as partial:
                partial.write_text(text, encoding="utf-8")
            done[name] = "written"
    return done


def main(argv=None):
    """Command-line entry point: no arguments but ``--help``; returns the exit status."""
    CommandParser(prog="make_exercises.py", description=__doc__,
                  formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    for name, what in write_edition().items():
        path = (EXERCISES_DIR / name).relative_to(PROJECT_DIR)
        if what == "kept":
            print(f"{path}: kept, because it was changed after it was written (your work?). "
                  "Move it away or delete it, then run again for a fresh copy.")
        else:
            print(f"{path}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
