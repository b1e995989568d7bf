"""Work–precision of the adaptive stiff solvers against scipy's Radau, BDF and LSODA.

Run ``python benchmarks/stiff.py`` (``--quick``: every second tolerance, three problems;
``--plot PATH``: where the work–precision diagram goes, default
``build/benchmarks/stiff_work_precision.png``).

For each problem it sweeps ``rtol`` from 1e-1 to 1e-9 (``atol = rtol * atol_factor``,
per problem), and records for every solver the *cost* — evaluations of ``f`` plus
evaluations of the Jacobian (every solver gets the problem's analytic ``jac``, so
finite-difference Jacobians do not blur the count) — and the *achieved error*: the
largest relative error of the final state against a Radau reference at rtol = 1e-12
(components below ``floor`` times their size count absolutely). Solvers are compared
at equal achieved error, not equal tolerance: the cost at errors 1e-3 and 1e-6 is
interpolated (log-log, between neighbouring runs) on each solver's Pareto front (a run
that costs more than a more accurate one is dropped), and the table prints ``ours /
min(Radau, BDF)`` for the best of our stiff methods and ``auto / min(dopri5, radau5)``.
A solver more accurate than both targets even at rtol = 1e-1 is also run at rtol = 0.3
and 1 (printed as "looser"); if every run on its front still beats a target, the
cheapest one's cost is an upper bound there, printed ``≤``. Counts, not times: they do
not depend on the machine's load.
Once a solver costs more than ``COST_CAP`` evaluations, its tighter tolerances are
skipped (it has lost there); dopri5 keeps its stiffness test, so on the stiff problems it
stops ("stiff/failed").

Problems: Robertson over [0, 1e5]; Van der Pol μ = 1e3 over [0, 3000]; HIRES; the stiff
linear system of ``course_utils.problems`` (eigenvalues -1 and -1e4); Van der Pol in the
scaled form of the IVP test set (ε = 1e-6); and, to show that ``auto`` costs nothing
where nothing is stiff, Van der Pol μ = 1 and Lotka–Volterra.
"""

import argparse
import math
import os
import sys
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils.ode import ODESolverError, odeint  # noqa: E402
from course_utils.problems import get_problem  # noqa: E402

PROBLEMS = [  # (label, name, params, atol_factor, stiff)
    ("Robertson [0, 1e5]", "robertson", {"t1": 1e5}, 1e-6, True),
    ("Van der Pol mu=1e3 [0, 3000]", "van_der_pol", {"mu": 1e3, "t1": 3000.0}, 1e-3, True),
    ("HIRES", "hires", {}, 1e-3, True),
    ("stiff linear (-1, -1e4)", "stiff_linear", {"stiffness": 1e4}, 1e-3, True),
    ("Van der Pol scaled eps=1e-6", "van_der_pol_scaled", {}, 1e-3, True),
    ("Van der Pol mu=1 (non-stiff)", "van_der_pol", {"mu": 1.0}, 1e-3, False),
    ("Lotka-Volterra (non-stiff)", "lotka_volterra", {}, 1e-3, False),
]
OURS = ["dopri5", "radau5", "kvaerno3", "sdirk4", "trbdf2", "rosenbrock23", "auto"]
PAIRS = ["radau5", "kvaerno3", "sdirk4", "trbdf2", "rosenbrock23"]
AUTO_STIFF = "radau5"  # the stiff method `auto` switches to
SCIPY = ["Radau", "BDF", "LSODA"]
TARGETS = (1e-3, 1e-6)
LOOSER = (10.0 ** -0.5, 1.0)  # for a solver that beats every target even at rtol = 0.1
COST_CAP = 30_000  # tighter tolerances are skipped once a solver costs more than this


def reference(problem):
    sol = solve_ivp(problem.func, (problem.t0, problem.t1), problem.y0, method="Radau",
                    rtol=1e-12, atol=1e-12 * 1e-4, jac=problem.jac)
    return sol.y[:, -1]


def achieved_error(y, ref, floor):
    scale = np.maximum(np.abs(ref), floor)
    return float(np.max(np.abs(y - ref) / scale))


def run(problem, solver, rtol, atol, ref, floor):
    """``(cost, error)``, or None when the solver gives up (e.g. dopri5 on a stiff one)."""
    span = (problem.t0, problem.t1)
    if solver in SCIPY:
        sol = solve_ivp(problem.func, span, problem.y0, method=solver, rtol=rtol, atol=atol,
                        jac=problem.jac)
        if not sol.success:
            return None
        return sol.nfev + sol.njev, achieved_error(sol.y[:, -1], ref, floor)
    kwargs = {} if solver == "dopri5" else {"jac": problem.jac}
    try:
        ys, stats = odeint(problem.func, problem.y0, list(span), method=solver, rtol=rtol,
                           atol=atol, return_stats=True, max_steps=200_000, **kwargs)
    except ODESolverError:
        return None
    return stats.nfe + stats.njev, achieved_error(ys[-1], ref, floor)


class AtMost(float):
    """A cost known only from above: the solver beat ``target`` even at its loosest rtol."""


def pareto_front(points):
    """The ``(error, cost)`` runs no other run beats in both, most accurate first.

    A looser tolerance can cost more than a tighter one (more rejections, Newton
    failures); such a run says nothing about what the error costs, so it is dropped.
    """
    front = []
    for e, c in sorted((e, c) for c, e in points if e > 0):
        if not front or c < front[-1][1]:
            front.append((e, c))
    return front


def cost_at(points, target):
    """Cost at ``target`` error, interpolated log-log between the two bracketing runs of
    the Pareto front (:func:`pareto_front`).

    When every run on the front is more accurate than ``target``, the cheapest one's cost
    is an upper bound (an :class:`AtMost`); None when no run reaches ``target``.
    """
    pts = pareto_front(points)
    for (e1, c1), (e2, c2) in zip(pts, pts[1:]):
        if e1 <= target <= e2:
            if e1 == e2:
                return min(c1, c2)
            w = (math.log(target) - math.log(e1)) / (math.log(e2) - math.log(e1))
            return math.exp((1 - w) * math.log(c1) + w * math.log(c2))
    if pts and pts[-1][0] < target:
        return AtMost(pts[-1][1])
    return None


def ratio_of(ours, peer):
    """``ours / peer`` as text: '≤ r' when only ours is an upper bound, '?' when the
    peer's is (the ratio is then unknown), '—' when either is missing."""
    if ours is None or peer is None:
        return "—"
    if isinstance(peer, AtMost):
        return "?"
    return f"{'≤ ' if isinstance(ours, AtMost) else ''}{ours / peer:.2f}"


def fmt(value, spec="8.0f"):
    if value is None:
        return f"{'—':>8}"
    text = format(value, spec.lstrip("0123456789"))
    return f"{('≤' if isinstance(value, AtMost) else '') + text:>8}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--plot", default="build/benchmarks/stiff_work_precision.png")
    args = parser.parse_args(argv)
    exponents = range(1, 10, 2) if args.quick else range(1, 10)
    tolerances = [10.0 ** -k for k in exponents]
    problems = PROBLEMS[:3] + PROBLEMS[5:6] if args.quick else PROBLEMS
    curves = {}
    slopes = {}  # label -> solver -> slope of log(error) against log(rtol), rtol <= 1e-3
    summary = []
    for label, name, params, atol_factor, _stiff in problems:
        problem = get_problem(name, **params)
        ref = reference(problem)
        floor = 1e-12
        print(f"\n== {label}")
        columns = " ".join(f"{'rtol=' + format(r, '.0e'):>17}" for r in tolerances)
        print(f"{'solver':>13} {columns}")
        curves[label] = {}
        slopes[label] = {}
        for solver in OURS + SCIPY:
            points = []
            swept = []  # (rtol, error)
            cells = []
            for rtol in tolerances:
                if points and points[-1][0] > COST_CAP:
                    cells.append("(skipped)")
                    continue
                out = run(problem, solver, rtol, rtol * atol_factor, ref, floor)
                cells.append("stiff/failed" if out is None else f"{out[0]:>7d} {out[1]:8.1e}")
                if out is not None:
                    points.append(out)
                    swept.append((rtol, out[1]))
            print(f"{solver:>13} " + " ".join(f"{c:>17}" for c in cells))
            tight = [(r, e) for r, e in swept if r <= 1.01e-3 and e > 0]
            if len(tight) >= 3:
                x, y = np.log([r for r, _ in tight]), np.log([e for _, e in tight])
                slopes[label][solver] = float(np.polyfit(x, y, 1)[0])
            if points and max(e for _, e in points) < max(TARGETS):
                # more accurate than every target even at rtol = 0.1: looser runs, so
                # that its cost at the targets is interpolated rather than bounded
                extra = []
                for rtol in LOOSER:
                    out = run(problem, solver, rtol, rtol * atol_factor, ref, floor)
                    if out is not None:
                        points.append(out)
                        extra.append(f"rtol={rtol:.1g}: {out[0]} {out[1]:.1e}")
                print(f"{'':>13} (looser: {'; '.join(extra) or 'failed'})")
            curves[label][solver] = points
        row = {"problem": label}
        for target in TARGETS:
            costs = {s: cost_at(curves[label][s], target) for s in OURS + SCIPY}
            peers = [costs[s] for s in ("Radau", "BDF") if costs[s] is not None]
            # (an AtMost compares as its value: the cheaper bound or cost wins)
            ours = [(costs[s], s) for s in PAIRS if costs[s] is not None]
            best = min(ours) if ours else (None, None)
            row[target] = dict(costs=costs, best=best, peer=min(peers) if peers else None)
            explicit_or_stiff = [costs[s] for s in ("dopri5", AUTO_STIFF) if costs[s] is not None]
            row[target]["auto_ref"] = min(explicit_or_stiff) if explicit_or_stiff else None
        summary.append(row)
    print("\n== Cost (f + Jacobian evaluations) at equal achieved error, interpolated")
    header = (f"{'problem':>30} {'error':>6} {'Radau':>8} {'BDF':>8} {'LSODA':>8} "
              f"{'dopri5':>8} {'best pair':>22} {'ours/peer':>9} {'auto':>8} "
              f"{'auto/best(dopri5,' + AUTO_STIFF + ')':>24}")
    print(header)
    for row in summary:
        for target in TARGETS:
            r = row[target]
            c = r["costs"]
            best_cost, best_name = r["best"]
            ratio = ratio_of(best_cost, r["peer"])
            auto_ratio = ratio_of(c["auto"], r["auto_ref"])
            pair = "—" if best_cost is None else f"{best_name} {fmt(best_cost).strip()}"
            print(f"{row['problem']:>30} {target:6.0e} {fmt(c['Radau'])} {fmt(c['BDF'])} "
                  f"{fmt(c['LSODA'])} {fmt(c['dopri5'])} {pair:>22} {ratio:>9} "
                  f"{fmt(c['auto'])} {auto_ratio:>24}")
    print("\n== Error against rtol: slope of log(error) over log(rtol), rtol 1e-3 ... 1e-9"
          " (1 = in proportion)")
    print(f"{'problem':>30} " + " ".join(f"{s:>12}" for s in OURS + SCIPY))
    for label, by_solver in slopes.items():
        print(f"{label:>30} " + " ".join(
            f"{by_solver[s]:12.2f}" if s in by_solver else f"{'—':>12}" for s in OURS + SCIPY))
    plot(curves, args.plot)


def plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(curves)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    styles = {"Radau": "k--", "BDF": "k:", "LSODA": "k-."}
    colours = dict(zip(OURS, plt.cm.tab10.colors))  # one colour per solver in every panel
    for ax, (label, by_solver) in zip(axes.flat, curves.items()):
        for solver, points in by_solver.items():
            if not points:
                continue
            cost, error = zip(*sorted(points))
            ax.loglog(error, cost, styles.get(solver, "o-"), label=solver, markersize=3,
                      **({"color": colours[solver]} if solver in colours else {}))
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("achieved relative error")
        ax.set_ylabel("f + Jacobian evaluations")
        ax.invert_xaxis()
        ax.legend(fontsize=6)  # every panel: dopri5 is absent where it stops (stiff)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Work–precision: course_utils stiff solvers vs scipy")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nwork–precision diagram written to {path}")


if __name__ == "__main__":
    main()
