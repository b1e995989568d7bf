"""Solver comparisons for ``02_runge_kutta_multistep``: the runs behind its tables.

Section 2.5 (the work–precision diagram) and section 6.4 (stiffness on Robertson's
reactions) race our solvers against each other and against scipy's ``solve_ivp``. The
loops that run them and the table they print live here, so the notebook cells keep
only the question and the claims it asserts.

A *problem* is a ``course_utils.problems`` IVP: it has ``func``, ``y0``, ``t0``, ``t1``
and a truth at ``t1`` (``exact`` or ``reference``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "final_truth",
    "work_precision_runs",
    "evaluations_for_error",
    "stiff_solver_runs",
    "format_table",
]


def final_truth(problem) -> np.ndarray:
    """The problem's solution at ``t1``: its ``exact`` solution, else its ``reference``."""
    truth = getattr(problem, "exact", None) or getattr(problem, "reference", None)
    if truth is None:
        raise ValueError("The problem needs an `exact` or a `reference` solution to measure "
                         "errors against.")
    return np.asarray(truth(problem.t1), dtype=float)


def work_precision_runs(problem, *, adaptive: Mapping = (), fixed: Mapping = (),
                        scipy: Mapping = (), atol_ratio: float = 100.0) -> dict:
    """Cost and final error of many solves, for ``plot_work_precision``.

    Parameters
    ----------
    problem : IVP
    adaptive : dict
        ``odeint`` method name -> tolerances; each run uses ``rtol = tol``,
        ``atol = tol / atol_ratio``. Labelled ``"<name> (ours)"``.
    fixed : dict
        label -> ``(method, step_counts)``: fixed-step ``odeint`` runs with
        ``step_size = (t1 - t0) / n`` (``method`` a name or a ``ButcherTableau``).
    scipy : dict
        ``solve_ivp`` method name -> tolerances. Labelled ``"scipy <name>"``.
    atol_ratio : float

    Returns
    -------
    dict
        label -> ``(nfe, errors)``, two arrays of shape ``(m,)``: the evaluations of
        ``f`` and the max-norm error at ``t1`` of each of the ``m`` runs.

    Notes
    -----
    ``02_runge_kutta_multistep``, section 2.5 (Hairer, Nørsett & Wanner I §II.10).
    """
    from scipy.integrate import solve_ivp

    from ..ode import odeint

    truth = final_truth(problem)
    span = [problem.t0, problem.t1]

    def error(values):
        return float(np.abs(np.asarray(values) - truth).max())

    work = {}
    for name, tolerances in dict(adaptive).items():
        runs = [odeint(problem.func, problem.y0, span, method=name, rtol=tol,
                       atol=tol / atol_ratio, return_stats=True) for tol in tolerances]
        work[f"{name} (ours)"] = (np.array([stats.nfe for _, stats in runs]),
                                  np.array([error(ys[-1]) for ys, _ in runs]))
    for label, (method, step_counts) in dict(fixed).items():
        runs = [odeint(problem.func, problem.y0, span, method=method,
                       step_size=(problem.t1 - problem.t0) / n, return_stats=True)
                for n in step_counts]
        work[label] = (np.array([stats.nfe for _, stats in runs]),
                       np.array([error(ys[-1]) for ys, _ in runs]))
    for name, tolerances in dict(scipy).items():
        sols = [solve_ivp(problem.func, span, problem.y0, method=name, rtol=tol,
                          atol=tol / atol_ratio) for tol in tolerances]
        work[f"scipy {name}"] = (np.array([sol.nfev for sol in sols]),
                                 np.array([error(sol.y[:, -1]) for sol in sols]))
    return work


def evaluations_for_error(work: Mapping, label: str, target: float) -> float:
    """Evaluations the solver ``label`` needs for the error ``target``.

    Interpolated linearly in log–log between the runs of ``work`` (the output of
    :func:`work_precision_runs`); NaN when no two runs bracket ``target``.

    Notes
    -----
    ``02_runge_kutta_multistep``, section 2.5.
    """
    nfe, errors = (np.asarray(v, dtype=float) for v in work[label])
    if not errors.min() <= target <= errors.max():
        return float("nan")
    order = np.argsort(errors)
    return float(np.exp(np.interp(np.log(target), np.log(errors[order]),
                                  np.log(nfe[order]))))


def stiff_solver_runs(problem, ours: Sequence[tuple[str, float]], scipy: Sequence[str], *,
                      output_times=None, rtol: float = 1e-6, atol: float = 1e-10) -> dict:
    """Fixed-step implicit ``odeint`` runs and scipy's stiff solvers on one problem.

    Parameters
    ----------
    problem : IVP with ``jac``
    ours : list of ``(method, step_size)``
        Our fixed-step implicit methods (``backward_euler``, ``bdf2``, …), with
        ``jac=problem.jac`` and Newton's default settings.
    scipy : list of str
        ``solve_ivp`` methods (``BDF``, ``Radau``, ``LSODA``), at ``rtol``, ``atol``, with
        the problem's Jacobian.
    output_times : array of shape ``(m,)``, optional
        Output grid of our runs (default ``[t0, t1]``).

    Returns
    -------
    dict
        label -> row, a dict with ``steps``, ``nfe``, ``njev``, ``newton`` (Newton
        iterations, ``None`` for scipy), ``error`` (max-norm at ``t1``), ``values``
        (our output, shape ``(m, d)``; scipy's ``sol.y.T``) and ``times`` (scipy's
        step times). Labels: ``"our <method>, h = <h>"`` and ``"scipy <name>"``.

    Notes
    -----
    ``02_runge_kutta_multistep``, section 6.4 (Hairer & Wanner II §IV.1).
    """
    from scipy.integrate import solve_ivp

    from ..ode import odeint

    truth = final_truth(problem)
    grid = [problem.t0, problem.t1] if output_times is None else output_times
    rows = {}
    for name, step_size in ours:
        values, stats = odeint(problem.func, problem.y0, grid, method=name,
                               step_size=step_size, jac=problem.jac, return_stats=True)
        rows[f"our {name}, h = {step_size:g}"] = {
            "steps": stats.num_accepted, "nfe": stats.nfe, "njev": stats.njev,
            "newton": stats.num_newton_iters, "error": float(np.abs(values[-1] - truth).max()),
            "values": values, "times": np.asarray(grid, dtype=float)}
    for name in scipy:
        sol = solve_ivp(problem.func, (problem.t0, problem.t1), problem.y0, method=name,
                        rtol=rtol, atol=atol, jac=problem.jac)
        if not sol.success:
            raise RuntimeError(f"scipy's {name} failed on this problem: {sol.message}")
        rows[f"scipy {name}"] = {
            "steps": len(sol.t) - 1, "nfe": sol.nfev, "njev": sol.njev, "newton": None,
            "error": float(np.abs(sol.y[:, -1] - truth).max()), "values": sol.y.T,
            "times": sol.t}
    return rows


def format_table(rows: Mapping, columns: Mapping[str, str], *, label: str = "solver") -> str:
    """A plain-text table: one line per row, one right-aligned column per entry.

    Parameters
    ----------
    rows : dict
        row label -> dict of values (missing or ``None`` values print blank).
    columns : dict
        key -> ``format`` spec, in column order; the key is the header
        (e.g. ``{"steps": "d", "error": ".1e"}``).
    label : str
        Header of the first column.

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table({"a": {"n": 3}}, {"n": "d"}))
    solver  n
    a       3

    Notes
    -----
    ``02_runge_kutta_multistep``, section 6.4.
    """
    first = max(len(label), *(len(str(name)) for name in rows))
    formatted = {name: [("" if row.get(key) is None else format(row[key], spec))
                        for key, spec in columns.items()] for name, row in rows.items()}
    widths = [max(len(key), *(len(cells[i]) for cells in formatted.values()))
              for i, key in enumerate(columns)]
    lines = [f"{label:<{first}}  " + " ".join(f"{key:>{w}}" for key, w in zip(columns, widths))]
    for name, cells in formatted.items():
        lines.append(f"{str(name):<{first}}  "
                     + " ".join(f"{cell:>{w}}" for cell, w in zip(cells, widths)))
    return "\n".join(line.rstrip() for line in lines)
