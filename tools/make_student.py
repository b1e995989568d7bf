"""Generate the student notebooks in ``notebooks/`` from the solutions in ``solutions/``.

The solutions notebook of each week is the single source of truth. Exercise regions are
marked as in nbgrader:

* in code cells, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are
  replaced by ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the same
  indentation. A region must sit inside a function body (indented), so that the student
  notebook still runs top to bottom: the check cell, not the definition, meets the
  ``NotImplementedError`` and reports "not attempted yet";
* in markdown cells, the text between ``<!-- BEGIN SOLUTION -->`` and
  ``<!-- END SOLUTION -->`` is replaced by a prompt for the student's own answer.

Outputs and execution counts are stripped, the ``nbval-check-output`` tag is dropped (the
student twin has no outputs to compare with), cells tagged ``solution-only`` are left
out, and cell ids are kept so that diffs between the twins stay small.

Usage::

    python tools/make_student.py            # (re)write notebooks/ from solutions/
    python tools/make_student.py --check    # exit 1 if notebooks/ is out of date
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"

CODE_BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
CODE_END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
MD_BEGIN = "<!-- BEGIN SOLUTION -->"
MD_END = "<!-- END SOLUTION -->"
STUDENT_CODE = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()"
STUDENT_MARKDOWN = (
    "**Your answer:** *double-click this cell and write your answer here; "
    "the solutions notebook has a worked answer.*"
)
#: Tags that make no sense in a notebook without outputs, or mark instructor-only cells.
DROPPED_TAGS = {"nbval-check-output"}
SOLUTION_ONLY_TAG = "solution-only"


class MarkerError(ValueError):
    """A solution marker is unbalanced, nested or misplaced."""


def _where(notebook: str, index: int, cell) -> str:
    cell_id = cell.get("id", "?")
    return f"{notebook}, cell {index} (id {cell_id!r})"


def strip_code(source: str, where: str = "cell") -> str:
    """Replace every ``### BEGIN/END SOLUTION`` region of a code cell by a stub.

    Raises
    ------
    MarkerError
        If the markers are unbalanced or nested, or a region is at the top level.
    """
    out: list[str] = []
    region_indent = None
    for number, line in enumerate(source.split("\n"), start=1):
        begin = CODE_BEGIN.match(line)
        if begin:
            if region_indent is not None:
                raise MarkerError(f"{where}: nested `### BEGIN SOLUTION` at line {number}")
            region_indent = begin.group("indent")
            if not region_indent:
                raise MarkerError(
                    f"{where}: `### BEGIN SOLUTION` at line {number} is at the top level; "
                    "put the exercise inside a function so the student notebook still runs "
                    "top to bottom"
                )
            out.append(STUDENT_CODE.format(indent=region_indent))
        elif CODE_END.match(line):
            if region_indent is None:
                raise MarkerError(f"{where}: `### END SOLUTION` at line {number} without a BEGIN")
            region_indent = None
        elif region_indent is None:
            out.append(line)
    if region_indent is not None:
        raise MarkerError(f"{where}: `### BEGIN SOLUTION` is never closed by `### END SOLUTION`")
    return "\n".join(out)


def strip_markdown(source: str, where: str = "cell") -> str:
    """Replace every ``<!-- BEGIN/END SOLUTION -->`` region of a markdown cell by a prompt."""
    out: list[str] = []
    rest = source
    while True:
        begin = rest.find(MD_BEGIN)
        end = rest.find(MD_END)
        if begin == -1 and end == -1:
            out.append(rest)
            break
        if begin == -1 or (end != -1 and end < begin):
            raise MarkerError(f"{where}: `{MD_END}` without a matching `{MD_BEGIN}`")
        if end == -1:
            raise MarkerError(f"{where}: `{MD_BEGIN}` is never closed by `{MD_END}`")
        nested = rest.find(MD_BEGIN, begin + len(MD_BEGIN))
        if nested != -1 and nested < end:
            raise MarkerError(f"{where}: nested `{MD_BEGIN}`")
        out.append(rest[:begin])
        out.append(STUDENT_MARKDOWN)
        rest = rest[end + len(MD_END) :]
    return "".join(out)


def has_solution(source: str) -> bool:
    """True if a cell's source holds a solution marker of either kind."""
    return "### BEGIN SOLUTION" in source or MD_BEGIN in source


def make_student(nb, notebook: str = "notebook"):
    """Return the student version of a solutions notebook (a new object)."""
    student = copy.deepcopy(nb)
    student.metadata.pop("widgets", None)
    cells = []
    for index, cell in enumerate(student.cells):
        where = _where(notebook, index, cell)
        tags = list(cell.get("metadata", {}).get("tags", []))
        if SOLUTION_ONLY_TAG in tags:
            continue
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
            for key in ("execution", "collapsed", "scrolled"):
                cell.metadata.pop(key, None)
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source, where)
        kept = [tag for tag in tags if tag not in DROPPED_TAGS]
        if kept:
            cell.metadata["tags"] = kept
        else:
            cell.metadata.pop("tags", None)
        cells.append(cell)
    student.cells = cells
    return student


def render(nb) -> str:
    """The exact text a notebook is committed as."""
    return nbformat.writes(nb, version=4) + "\n"


def solution_paths() -> list[Path]:
    return sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


def build(check: bool = False) -> int:
    """Write (or, with ``check``, compare) every student notebook; return an exit code."""
    stale = []
    for path in solution_paths():
        nb = nbformat.read(path, as_version=4)
        text = render(make_student(nb, notebook=f"solutions/{path.name}"))
        target = NOTEBOOKS / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        if check:
            stale.append(target.relative_to(ROOT))
        else:
            NOTEBOOKS.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    orphans = sorted(
        p.relative_to(ROOT)
        for p in NOTEBOOKS.glob("*.ipynb")
        if not (SOLUTIONS / p.name).exists()
    )
    if orphans:
        print("student notebooks without a solutions twin: " + ", ".join(map(str, orphans)))
        return 1
    if stale:
        print(
            "out of date with solutions/: "
            + ", ".join(map(str, stale))
            + "\nrun `make student` and commit the result"
        )
        return 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    try:
        return build(check=args.check)
    except MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
