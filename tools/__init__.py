"""Notebook tooling of the course (student versions, execution, Colab bundles, the site)."""

#: The course's notebook names, as DESIGN.md fixes them: the same stem in ``solutions/``
#: and ``notebooks/``.
WEEK_STEMS = [
    "00_getting_started",
    "01_one_step_methods",
    "02_runge_kutta_multistep",
    "03_resnets_as_odes",
    "04_normalising_flows",
    "05_adjoint_autodiff",
    "06_neural_odes",
]
