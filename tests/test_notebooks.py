"""Execute every teaching notebook top to bottom on small data (NNSCRATCH_NOTEBOOK_SMALL=1).

The notebooks assert their own claims (by-hand maths equals nnscratch, fast kernels equal the
loop references, nnscratch equals Keras), so a notebook that runs is a notebook that is right.
They are stored without outputs; the first test keeps it that way.

Every notebook ends with exercises: an answer cell with ``# YOUR CODE HERE`` whose last line is
``answer = solution("NN.name", answer)``, and a check cell. The notebooks run here with
``NNSCRATCH_NOTEBOOK_SOLUTIONS=1``, so ``solution`` returns the reference answer of
``notebooks/exercise_solutions.py`` and the checks must pass; without it, the stubs must fail.
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

nbformat = pytest.importorskip("nbformat")


def test_there_are_ten_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"], NOTEBOOKS


EXERCISE_BOOKS = [p for p in NOTEBOOKS if not p.name.startswith("08")]  # 08 is the exercises notebook itself


@pytest.mark.parametrize("path", EXERCISE_BOOKS, ids=lambda p: p.stem)
def test_notebook_explains_the_scheme_and_ends_with_checked_exercises(path):
    book = nbformat.read(path, as_version=4)
    assert "**Exercises.**" in book.cells[1].source, f"{path.name}: explain the exercise scheme at the top"
    start = max(i for i, c in enumerate(book.cells) if c.source.startswith("## Exercises"))
    answers = [c for c in book.cells[start:] if "# YOUR CODE HERE" in c.source]
    assert answers, f"{path.name}: no exercise after '## Exercises'"
    for cell in answers:
        last = cell.source.strip().splitlines()[-1]
        assert " = solution(\"" in last, f"{path.name}: the answer cell must end with x = solution(...): {last}"
    stubs = "\n".join(c.source for c in answers)
    assert "raise NotImplementedError" in stubs or "= None" in stubs, f"{path.name}: the stubs must not be answers"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    if os.environ.get("NNSCRATCH_BACKEND", "numpy") != "numpy":
        pytest.skip("the notebooks teach on the NumPy backend; they run in the plain (numpy) test pass")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("NNSCRATCH_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("NNSCRATCH_NOTEBOOK_SOLUTIONS", "1")  # the exercises are checked with the reference answers
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("NNSCRATCH_BACKEND", "numpy")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors


def test_without_the_solutions_the_exercise_checks_fail(monkeypatch):
    """The reference answers are what makes the checks pass: the stubs alone do not."""
    monkeypatch.delenv("NNSCRATCH_NOTEBOOK_SOLUTIONS", raising=False)
    monkeypatch.syspath_prepend(str(NOTEBOOK_DIR))
    import exercise_solutions

    assert exercise_solutions.solution("04.lenet_params", None) is None
    monkeypatch.setenv("NNSCRATCH_NOTEBOOK_SOLUTIONS", "1")
    assert exercise_solutions.solution("04.lenet_params", None) == [156, 2416, 48120, 10164, 850]
