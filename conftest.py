"""pytest set-up shared by the unit tests (``tests/``) and nbval (``solutions/``, ``notebooks/``).

Every kernel a test starts (nbval's, the Colab-bundle test's, ``tools/execute.py``'s) is
headless: no front end answers widget comms there, so ``COURSE_NO_WIDGETS=1`` tells
:func:`course_utils.plotting.slider_figure` to draw only its static figure. Set here, at
the root, it holds for ``make test``, CI and a hand-typed ``pytest --nbval-lax …`` alike.
"""

import os

os.environ.setdefault("COURSE_NO_WIDGETS", "1")
