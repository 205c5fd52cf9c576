"""Every number the committed notebooks state in prose is one their own run printed.

A sentence such as "greedy WER 4.31%" is easily left behind when a notebook is run
again. Each number with decimals in a markdown cell must be printed by the notebook's
outputs (tables included, at the prose's rounding) or written in its code cells
(parameters, the essay's reported figures); whole numbers (epochs, sizes) are left
out, since they are settings rather than results.
"""

import json
import re

import pytest

from plumbing import PROJECT_DIR

NOTEBOOKS = sorted((PROJECT_DIR / "notebooks").glob("*.ipynb"))
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})*\.\d+|(?<![\w.])\d+\.\d+")


def numbers(text):
    """The decimal numbers of a text, as ``(value, decimals)``."""
    found = []
    for match in NUMBER.finditer(text):
        token = match.group().replace(",", "")
        found.append((float(token), len(token.split(".")[1])))
    return found


def printed(cell):
    """All the text a code cell's outputs show (streams, plain text and HTML of tables)."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        for kind in ("text/plain", "text/html", "text/markdown"):
            parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def unsupported(notebook):
    """``(cell number, number)`` of every prose number that nothing of the notebook backs."""
    cells = notebook["cells"]
    backing = set()
    for cell in cells:
        if cell["cell_type"] == "code":
            for value, decimals in numbers(printed(cell) + "\n" + "".join(cell["source"])):
                for places in range(decimals + 1):
                    backing.add(round(value, places))
    missing = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for value, decimals in numbers("".join(cell["source"])):
            if round(value, decimals) not in backing:
                missing.append((index, value))
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_numbers_in_prose_are_printed_by_the_notebook(path):
    notebook = json.loads(path.read_text())
    assert unsupported(notebook) == [], (
        f"{path.name}: these numbers of the prose (cell, number) are printed nowhere in the "
        "notebook; write the sentence from this run's outputs")


def test_a_number_that_no_output_prints_is_found():
    cell = {"cell_type": "code", "source": "x = 0.5", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "WER 4.3124 and 1,234.5\n"}]}
    prose = {"cell_type": "markdown", "source": "WER 4.31%, 0.5 and 1,234.5 but 7.79%"}
    assert unsupported({"cells": [cell, prose]}) == [(1, 7.79)]
