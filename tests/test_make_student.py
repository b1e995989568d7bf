"""The student-notebook generator (tools/make_student.py)."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools import make_student as ms


def test_code_region_becomes_stub_at_same_indent():
    source = (
        "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n"
        "    ### END SOLUTION\n"
    )
    assert ms.strip_code(source) == (
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )


def test_two_regions_in_one_cell():
    source = (
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
        "class A:\n    def g(self):\n        ### BEGIN SOLUTION\n        return 2\n"
        "        ### END SOLUTION\n"
    )
    out = ms.strip_code(source)
    assert out.count("raise NotImplementedError()") == 2
    assert "        raise NotImplementedError()" in out
    assert "return 1" not in out and "return 2" not in out


def test_code_without_markers_is_unchanged():
    source = "x = 1\nprint(x)"
    assert ms.strip_code(source) == source


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "without a BEGIN"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n",
            "nested",
        ),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "top level"),
    ],
)
def test_bad_code_markers_name_the_cell(source, message):
    with pytest.raises(ms.MarkerError, match=message) as info:
        ms.strip_code(source, where="solutions/99_x.ipynb, cell 3")
    assert "99_x.ipynb, cell 3" in str(info.value)


def test_markdown_region_becomes_prompt():
    source = "Why?\n\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->\nAfter."
    out = ms.strip_markdown(source)
    assert "Because" not in out
    assert out.startswith("Why?\n\n") and out.endswith("\nAfter.")
    assert ms.STUDENT_MARKDOWN in out


@pytest.mark.parametrize(
    "source, message",
    [
        ("<!-- BEGIN SOLUTION -->\nopen", "never closed"),
        ("text <!-- END SOLUTION -->", "without a matching"),
        (
            "<!-- BEGIN SOLUTION --> a <!-- BEGIN SOLUTION --> b <!-- END SOLUTION -->",
            "nested",
        ),
    ],
)
def test_bad_markdown_markers(source, message):
    with pytest.raises(ms.MarkerError, match=message):
        ms.strip_markdown(source)


def _solution_notebook():
    code = new_code_cell(
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
        execution_count=3,
        outputs=[new_output("stream", name="stdout", text="hi\n")],
    )
    code.metadata["tags"] = ["nbval-check-output", "setup"]
    instructor = new_code_cell("print('instructor only')")
    instructor.metadata["tags"] = ["solution-only"]
    text = new_markdown_cell("Q\n<!-- BEGIN SOLUTION -->\nA\n<!-- END SOLUTION -->")
    nb = new_notebook(cells=[text, code, instructor])
    nb.metadata["widgets"] = {"state": {}}
    return nb


def test_make_student_strips_outputs_tags_and_keeps_ids():
    nb = _solution_notebook()
    student = ms.make_student(nb)
    assert [c.id for c in student.cells] == [nb.cells[0].id, nb.cells[1].id]
    code = student.cells[1]
    assert code.outputs == [] and code.execution_count is None
    assert code.metadata["tags"] == ["setup"]
    assert "raise NotImplementedError()" in code.source
    assert "widgets" not in student.metadata
    # the solutions notebook itself is untouched
    assert nb.cells[1].outputs and "return 1" in nb.cells[1].source


def test_make_student_is_idempotent_on_text():
    nb = _solution_notebook()
    once = ms.render(ms.make_student(nb))
    twice = ms.render(ms.make_student(nbformat.reads(once, as_version=4)))
    assert once == twice


def test_committed_student_notebooks_are_in_sync():
    """Regenerate every student notebook in memory; a committed one that differs fails."""
    assert ms.build(check=True) == 0, "run `make student` and commit notebooks/"


def test_every_solution_has_a_student_twin_and_vice_versa():
    solutions = {p.name for p in ms.SOLUTIONS.glob("*.ipynb")}
    students = {p.name for p in ms.NOTEBOOKS.glob("*.ipynb")}
    assert solutions == students
    assert "00_getting_started.ipynb" in solutions
