"""Compare our dopri5 with scipy's RK45/DOP853, torchdiffeq's dopri5 and torchode's Dopri5.

Run ``python benchmarks/solvers.py`` (``--quick``: 3 repeats, two tolerances).

For every problem and tolerance ``rtol = atol`` in {1e-3, 1e-6, 1e-9} it prints, per
solver: the number of function evaluations (NFE), the max-norm error at the final
time against an independent reference, the median time of one solve, our time
relative to that solver's (``ours/this`` < 1: we are faster), and the *overhead
factor* ``time / (NFE × time of one bare func call)`` (1.0: the solver costs nothing
beyond its function evaluations).

Method: everything runs single-threaded (torch, BLAS, OpenMP); the solvers
alternate within each repeat (drifts in machine load hit all of them alike) and
every repeat also times bare ``func`` calls, so the overhead factor compares times
taken under the same load. Times are CPU time of this process
(``time.process_time``; single-threaded torch), which on a shared machine tracks the
wall time of an idle one; ``--wall`` uses ``time.perf_counter`` instead.

"ours plain" is our dopri5 with the plain stage arithmetic of ``_steps.PlainStages``
instead of the backend's fast kernel (``_kernels``): the speed rule of the engine keeps a
fast path only where the plain step loses more than 15 %. torchode (``Dopri5`` with its
``IntegralController``, ``AutoDiffAdjoint``) solves the batch as independent problems.

Problems: the non-stiff test problems of ``course_utils.problems`` (NumPy); a small
torch problem (a 2-D linear spiral, float64, exact solution by ``expm``); a batched
torch MLP vector field (64 -> 128 -> 64, tanh, batch 256, float32, CPU, t in [0, 5];
reference: scipy's DOP853 at rtol = atol = 1e-10 on the same field in float64).
All torch solves run under ``torch.no_grad()`` with ``torch.set_num_threads(1)``.

``--only tuple`` (issue 13): a CNF-like field on FFJORD's tuple state ``(z, logp)`` (the
MLP above on z, batch 256, and dlogp/dt = -Σ z·dz) solved as a tuple and as one flat
tensor of the same size written by hand, ours and torchdiffeq's; the claim is that the
tuple costs at most 10 % more than the flat tensor. ``--only events``: a ball dropped
from 2 m (and the MLP field with an event on its mean) until it hits the floor, ours
against torchdiffeq's ``event_fn``, and ours with and without the event.
"""

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

# One thread everywhere: idle BLAS/OpenMP worker threads spin after scipy
# float64 matrix products and would steal the CPU from whatever is timed next.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils.ode import TABLEAUS, odeint  # noqa: E402
from course_utils.ode._registry import RungeKuttaMethod  # noqa: E402
from course_utils.problems import get_problem  # noqa: E402

NUMPY_PROBLEMS = [
    ("decay", {}),
    ("logistic", {}),
    ("harmonic_oscillator", {}),
    ("pendulum", {}),
    ("lotka_volterra", {}),
    ("van_der_pol", {"mu": 1.0}),
    ("kepler", {"eccentricity": 0.5}),
]
CLOCK = time.process_time


class Counted:
    """Wrap ``func`` to count its calls."""

    def __init__(self, func):
        self.func = func
        self.count = 0

    def __call__(self, t, y):
        self.count += 1
        return self.func(t, y)


def measure(solvers, repeats, bare_calls):
    """Time solvers and bare calls, alternating them within each repeat.

    ``solvers``: name -> fn() returning ``(final_state, nfe)``; ``bare_calls``: name ->
    fn() calling the solver's ``func`` once. Returns ``{name: (final, nfe, seconds,
    seconds per bare call)}`` with medians over the repeats.
    """
    times = {name: [] for name in solvers}
    bare = {name: [] for name in solvers}
    results = {}
    for _ in range(repeats):
        for name, solve in solvers.items():
            start = CLOCK()
            results[name] = solve()
            times[name].append(CLOCK() - start)
            call = bare_calls[name]
            start = CLOCK()
            for _ in range(20):
                call()
            bare[name].append((CLOCK() - start) / 20)
    return {
        name: (*results[name], statistics.median(times[name]), statistics.median(bare[name]))
        for name in solvers
    }


def report(title, rows):
    print(f"\n{title}")
    print(
        f"  {'tol':>7} {'solver':<20} {'NFE':>6} {'error':>9} {'time ms':>9} "
        f"{'ours/this':>9} {'overhead':>8}"
    )
    for tol, measured in rows:
        ours = measured["ours dopri5"][2]
        for name, (final_error, nfe, seconds, call) in measured.items():
            ratio = "" if name == "ours dopri5" else f"{ours / seconds:9.2f}"
            print(
                f"  {tol:7.0e} {name:<20} {nfe:6d} {final_error:9.2e} {seconds * 1e3:9.2f} "
                f"{ratio:>9} {seconds / (nfe * call):8.2f}"
            )


PLAIN_DOPRI5 = RungeKuttaMethod(TABLEAUS["dopri5"], fast=False)


def _ours(func, y0, t, tol, to_numpy=np.asarray, method="dopri5"):
    def run():
        counted = Counted(func)
        ys = odeint(counted, y0, t, rtol=tol, atol=tol, method=method)
        return to_numpy(ys[-1]), counted.count

    return run


def _scipy(func, y0, t_span, tol, method, reshape=None):
    def run():
        counted = Counted(func)
        sol = solve_ivp(counted, t_span, y0, method=method, rtol=tol, atol=tol)
        final = sol.y[:, -1] if reshape is None else sol.y[:, -1].reshape(reshape)
        return final, counted.count

    return run


def _torchdiffeq(odeint_tde, func, y0, t, tol):
    def run():
        counted = Counted(func)
        ys = odeint_tde(counted, y0, t, rtol=tol, atol=tol, method="dopri5")
        return ys[-1].double().numpy(), counted.count

    return run


def _torchode(func, y0, t, tol):
    """torchode's Dopri5 with an integral controller, on the state as one flat problem
    (one shared error norm, as ours and torchdiffeq's)."""
    import torchode

    flat = y0.reshape(1, -1)
    shape = y0.shape

    def field(time, state):
        return func(time, state.reshape(shape)).reshape(1, -1)

    def run():
        counted = Counted(field)
        term = torchode.ODETerm(counted)
        solver = torchode.AutoDiffAdjoint(
            torchode.Dopri5(term=term),
            torchode.IntegralController(atol=tol, rtol=tol, term=term),
        )
        problem = torchode.InitialValueProblem(y0=flat, t_eval=t.reshape(1, -1).to(flat.dtype))
        solution = solver.solve(problem)
        final = solution.ys[0, -1].reshape(shape)
        return final.double().numpy(), counted.count

    return run


def _with_errors(measured, truth):
    return {
        name: (float(np.max(np.abs(final - truth))), nfe, seconds, call)
        for name, (final, nfe, seconds, call) in measured.items()
    }


def numpy_benchmarks(tolerances, repeats):
    for name, params in NUMPY_PROBLEMS:
        problem = get_problem(name, **params)
        truth = np.asarray(problem.solution(problem.t1))
        span = [problem.t0, problem.t1]
        bare = lambda problem=problem: problem.func(problem.t0, problem.y0)
        rows = []
        for tol in tolerances:
            solvers = {
                "ours dopri5": _ours(problem.func, problem.y0, span, tol),
                "ours plain": _ours(problem.func, problem.y0, span, tol, method=PLAIN_DOPRI5),
                "scipy RK45": _scipy(problem.func, problem.y0, span, tol, "RK45"),
                "scipy DOP853": _scipy(problem.func, problem.y0, span, tol, "DOP853"),
            }
            measured = measure(solvers, repeats, dict.fromkeys(solvers, bare))
            rows.append((tol, _with_errors(measured, truth)))
        report(f"{name} (NumPy, n={problem.dim}, t in [{problem.t0:g}, {problem.t1:g}])", rows)


def torch_benchmarks(tolerances, repeats):
    import torch
    from scipy.linalg import expm

    torch.set_num_threads(1)
    try:
        from torchdiffeq import odeint as odeint_tde
    except ImportError:  # pragma: no cover
        odeint_tde = None
        print("\n(torchdiffeq is not installed: skipping it)")
    try:
        import torchode  # noqa: F401
        have_torchode = True
    except ImportError:  # pragma: no cover
        have_torchode = False
        print("\n(torchode is not installed: skipping it)")
    to_numpy = lambda x: x.double().numpy()

    # -- a small problem: a 2-D linear spiral, float64, exact solution by expm
    matrix = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    matrix_t = torch.tensor(matrix.T)
    y0 = torch.tensor([2.0, 0.0], dtype=torch.float64)
    t = torch.tensor([0.0, 10.0], dtype=torch.float64)
    truth = expm(matrix * 10.0) @ y0.numpy()

    def spiral(t, y):
        return y @ matrix_t

    rows = []
    with torch.no_grad():
        for tol in tolerances:
            solvers = {"ours dopri5": _ours(spiral, y0, t, tol, to_numpy),
                       "ours plain": _ours(spiral, y0, t, tol, to_numpy, PLAIN_DOPRI5)}
            if odeint_tde is not None:
                solvers["torchdiffeq dopri5"] = _torchdiffeq(odeint_tde, spiral, y0, t, tol)
            if have_torchode:
                solvers["torchode Dopri5"] = _torchode(spiral, y0, t, tol)
            bare = lambda: spiral(t[0], y0)
            measured = measure(solvers, repeats, dict.fromkeys(solvers, bare))
            rows.append((tol, _with_errors(measured, truth)))
    report("small torch problem: 2-D linear spiral y' = y A, float64, t in [0, 10]", rows)

    # -- a batched MLP vector field, float32
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 64))
    net64 = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 64)
    ).double()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    y0 = torch.randn(256, 64)
    t = torch.tensor([0.0, 5.0])

    def mlp(t, y):
        return net(y)

    def mlp_float64(t, y):  # scipy's view of the same field: flat float64
        return net64(torch.from_numpy(y).reshape(256, 64)).reshape(-1).numpy()

    def mlp_scipy(t, y):  # scipy works in float64: convert at the boundary, compute in float32
        state = torch.from_numpy(y.astype(np.float32)).reshape(256, 64)
        return net(state).reshape(-1).numpy().astype(np.float64)

    with torch.no_grad():
        reference = solve_ivp(
            mlp_float64,
            (0.0, 5.0),
            y0.double().reshape(-1).numpy(),
            method="DOP853",
            rtol=1e-10,
            atol=1e-10,
        )
        truth = reference.y[:, -1].reshape(256, 64)
        flat_y0 = y0.reshape(-1).double().numpy()
        rows = []
        for tol in tolerances:
            solvers = {"ours dopri5": _ours(mlp, y0, t, tol, to_numpy),
                       "ours plain": _ours(mlp, y0, t, tol, to_numpy, PLAIN_DOPRI5)}
            bare = {"ours dopri5": lambda: mlp(t[0], y0)}
            bare["ours plain"] = bare["ours dopri5"]
            if odeint_tde is not None:
                solvers["torchdiffeq dopri5"] = _torchdiffeq(odeint_tde, mlp, y0, t, tol)
                bare["torchdiffeq dopri5"] = bare["ours dopri5"]
            if have_torchode:
                solvers["torchode Dopri5"] = _torchode(mlp, y0, t, tol)
                bare["torchode Dopri5"] = bare["ours dopri5"]
            solvers["scipy RK45"] = _scipy(
                mlp_scipy, flat_y0, (0.0, 5.0), tol, "RK45", reshape=(256, 64)
            )
            bare["scipy RK45"] = lambda: mlp_scipy(0.0, flat_y0)
            measured = measure(solvers, repeats, bare)
            rows.append((tol, _with_errors(measured, truth)))
    report(
        "MLP field 64-128-64 tanh, batch 256, float32, t in [0, 5] "
        "(scipy: through a float64 wrapper)",
        rows,
    )


def _tuple_report(title, rows, reference):
    print(f"\n{title}")
    print(f"  {'tol':>7} {'solver':<26} {'NFE':>6} {'time ms':>9} {'/ ' + reference:>18}")
    for tol, measured in rows:
        base = measured[reference][1]
        for name, (nfe, seconds) in measured.items():
            print(f"  {tol:7.0e} {name:<26} {nfe:6d} {seconds * 1e3:9.2f} "
                  f"{seconds / base:18.3f}")


def _timed(solvers, repeats):
    times = {name: [] for name in solvers}
    nfes = {}
    for _ in range(repeats):
        for name, solve in solvers.items():
            start = CLOCK()
            nfes[name] = solve()
            times[name].append(CLOCK() - start)
    return {name: (nfes[name], statistics.median(times[name])) for name in solvers}


def tuple_benchmarks(tolerances, repeats):
    """A tuple state (z, logp) against one flat tensor of the same size (issue 13)."""
    import torch

    torch.set_num_threads(1)
    try:
        from torchdiffeq import odeint as odeint_tde
    except ImportError:  # pragma: no cover
        odeint_tde = None
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 64))
    z0, logp0 = torch.randn(256, 64), torch.zeros(256, 1)
    t = torch.tensor([0.0, 5.0])

    def tuple_field(t, state):
        z, _ = state
        dz = net(z)
        return dz, -(z * dz).sum(-1, keepdim=True) * 1e-3

    def flat_field(t, y):  # the same field, written on one (256, 65) tensor by hand
        z = y[:, :64]
        dz = net(z)
        return torch.cat([dz, -(z * dz).sum(-1, keepdim=True) * 1e-3], dim=1)

    flat0 = torch.cat([z0, logp0], dim=1)
    rows = []
    with torch.no_grad():
        for tol in tolerances:
            def run(solve, func, y0, tol=tol):
                def go():
                    counted = Counted(func)
                    solve(counted, y0, t, rtol=tol, atol=tol)
                    return counted.count
                return go

            solvers = {"ours flat tensor": run(odeint, flat_field, flat0),
                       "ours tuple (z, logp)": run(odeint, tuple_field, (z0, logp0))}
            if odeint_tde is not None:
                solvers["torchdiffeq flat tensor"] = run(odeint_tde, flat_field, flat0)
                solvers["torchdiffeq tuple"] = run(odeint_tde, tuple_field, (z0, logp0))
            rows.append((tol, _timed(solvers, repeats)))
    _tuple_report("tuple state (z, logp) vs one flat tensor: MLP 64-128-64 on z, batch 256, "
                  "float32, t in [0, 5]", rows, "ours flat tensor")


def event_benchmarks(tolerances, repeats):
    """Events: ours against torchdiffeq's event_fn, and against no event (issue 13)."""
    import torch

    torch.set_num_threads(1)
    try:
        from torchdiffeq import odeint as odeint_tde
    except ImportError:  # pragma: no cover
        odeint_tde = None

    def ball(t, y):
        return torch.stack([y[1], torch.full_like(y[1], -9.81)])

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 64))
    problems = [
        ("ball dropped from 2 m (float64)", ball, torch.tensor([2.0, 0.0], dtype=torch.float64),
         lambda t, y: y[0], math.sqrt(4 / 9.81)),
        ("MLP 64-128-64, batch 256 (float32), event: mean(y) = mean(y0) + 0.05",
         lambda t, y: net(y), torch.randn(256, 64), None, None),
    ]
    for title, field, y0, event, end in problems:
        if event is None:
            level = float(y0.mean()) + 0.05
            event = lambda t, y, level=level: y.mean() - level
            with torch.no_grad():
                end = float(odeint(field, y0, torch.tensor([0.0, 1.0]), event_fn=event)[0])
        t_event = torch.tensor([0.0, 1.0], dtype=y0.dtype)
        t_plain = torch.tensor([0.0, end], dtype=y0.dtype)
        rows = []
        with torch.no_grad():
            for tol in tolerances:
                def run(solve, span, event_fn=None, field=field, y0=y0, tol=tol):
                    def go():
                        counted = Counted(field)
                        kwargs = {} if event_fn is None else {"event_fn": event_fn}
                        solve(counted, y0, span, rtol=tol, atol=tol, **kwargs)
                        return counted.count
                    return go

                solvers = {"ours, no event (to t_event)": run(odeint, t_plain),
                           "ours event_fn": run(odeint, t_event, event)}
                if odeint_tde is not None:
                    solvers["torchdiffeq event_fn"] = run(odeint_tde, t_event, event)
                rows.append((tol, _timed(solvers, repeats)))
        _tuple_report(f"events: {title}", rows, "torchdiffeq event_fn"
                      if odeint_tde is not None else "ours event_fn")


def main(argv=None):
    global CLOCK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, two tolerances")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (default 7)")
    parser.add_argument("--only", choices=["numpy", "torch", "tuple", "events"], default=None)
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    args = parser.parse_args(argv)
    if args.wall:
        CLOCK = time.perf_counter
    repeats = args.repeats or (3 if args.quick else 7)
    tolerances = [1e-3, 1e-6] if args.quick else [1e-3, 1e-6, 1e-9]
    clock = "wall" if args.wall else "CPU"
    print(f"{clock} time, median of {repeats} repeats; rtol = atol in {tolerances}")
    if args.only in (None, "numpy"):
        numpy_benchmarks(tolerances, repeats)
    if args.only in (None, "torch"):
        torch_benchmarks(tolerances, repeats)
    if args.only in (None, "tuple"):
        tuple_benchmarks(tolerances, repeats)
    if args.only in (None, "events"):
        event_benchmarks(tolerances, repeats)


if __name__ == "__main__":
    main()
