"""Re-execute solutions notebooks in place, so that their committed outputs are current.

Each notebook runs top to bottom in a fresh kernel of the current environment, from the
``solutions/`` folder (as nbval and JupyterLab run it); the wall time of each is printed.
The kernel gets ``COURSE_NO_WIDGETS=1`` (:data:`HEADLESS_ENV`): nothing displays widgets
here, so interactive figures draw only their static version
(:func:`course_utils.plotting.slider_figure`) instead of opening widget comms that no
front end answers.

Usage::

    python tools/execute.py                       # every solutions/NN_*.ipynb
    python tools/execute.py solutions/01_*.ipynb  # some of them
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_utils.plotting.interactive import NO_WIDGETS_ENV

ROOT = Path(__file__).resolve().parent.parent

#: Added to the kernel's environment: no front end, so no live widgets.
HEADLESS_ENV = {NO_WIDGETS_ENV: "1"}

#: Notebook metadata that changes on every run and says nothing about the content.
VOLATILE_CELL_METADATA = ("execution",)


def execute(path: Path, timeout: int = 900) -> float:
    """Execute one notebook in place and return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute(env={**os.environ, **HEADLESS_ENV})
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    path.write_text(nbformat.writes(nb, version=4) + "\n", encoding="utf-8")
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        elapsed = execute(path)
        print(f"{path}: executed in {elapsed:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
