"""Memory and function evaluations: backprop through the solver vs the adjoint method.

Run ``python benchmarks/adjoint.py`` (``--quick`` for T = 1 and 5 only).

For a batched MLP vector field (``f(t, y) = MLP(y, sin 2t, cos 2t)``: 4 -> 64 -> 64 -> 2,
tanh, batch 256, float32, CPU, one thread) and integration intervals T = 1, 5, 20, 80
it computes one gradient of ``L = Σ_batch |y(T)|²`` with respect to ``y0`` and the
parameters, by

* ``backprop``: ``course_utils.ode.odeint`` + autograd (discretise-then-optimise);
* ``adjoint``: ``course_utils.adjoint.odeint_adjoint`` (optimise-then-discretise);
* ``adjoint+semi``: the same with ``seminorm=True``;
* ``interpolated`` / ``interpolated+semi``: the interpolating adjoint
  (``course_utils.adjoint_checkpoint.odeint_interpolated_adjoint``: the forward's
  interpolants are kept, the backward pass solves only ``(a, g_θ)``), without and with
  the seminorm;
* ``tdq-adjoint`` / ``tdq-adjoint+semi``: torchdiffeq's ``odeint_adjoint`` (a peer, with
  ``adjoint_options={"norm": "seminorm"}`` for the second).

All use dopri5 with rtol = atol = 1e-5 forwards and backwards. Every configuration runs
in a **fresh Python process** (this script re-invokes itself with ``--worker``), which
first does one small warm-up gradient, records its peak resident memory
resets the kernel's peak-RSS counter (``/proc/self/clear_refs``; ``VmHWM`` in
``/proc/self/status``), and then computes the measured gradient. glibc is told to serve
allocations of 16 KiB and more by ``mmap`` and to return freed memory at once, so the
resident set follows the live tensors. It reports

* ``peak MiB``: the process's peak resident set size during the measured forward +
  backward (torch, the model and the data included);
* ``Δpeak MiB``: that peak minus the resident set just before the measured forward pass:
  the memory the gradient computation needed beyond the fixed cost of torch, the model
  and the data — the number whose growth with T we compare;
* ``saved MiB``: bytes of the tensors autograd saved for the backward pass (via
  ``torch.autograd.graph.saved_tensors_hooks``; deterministic), plus for the
  interpolating adjoint the bytes of the interpolants it keeps;
* forward and backward NFE (calls of the vector field, counted by the field itself), the
  accepted forward steps, and the wall time of forward + backward.

Targets (issue 7): the adjoint's Δpeak flat within 1.2x from T = 1 to 80 while
backprop's grows with the steps taken; backward NFE with the seminorm below that without.
Targets (issue 17): the interpolating adjoint's backward/forward NFE <= 0.7 at T = 20, and
its saved memory growing no faster than the forward steps it keeps.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOLVERS = ["backprop", "adjoint", "adjoint+semi", "interpolated", "interpolated+semi",
           "tdq-adjoint", "tdq-adjoint+semi"]
HORIZONS = [1.0, 5.0, 20.0, 80.0]
TOL = 1e-5
BATCH, HIDDEN = 256, 64


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def reset_peak():
    """Reset the peak resident set size (Linux >= 4.0); return the current RSS in MiB.

    Elsewhere fall back to ``ru_maxrss`` (which cannot be reset: the measured increase is
    then only a lower bound).
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return _status_kib("VmRSS") / 1024
    except OSError:
        return peak_mib()


def peak_mib():
    """Peak resident set size since the last :func:`reset_peak`, in MiB."""
    try:
        return _status_kib("VmHWM") / 1024
    except OSError:
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss units
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def worker(solver, horizon):
    """One configuration in this (fresh) process; returns a dict of measurements."""
    import torch

    torch.set_num_threads(1)

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(
                torch.nn.Linear(4, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, HIDDEN),
                torch.nn.Tanh(), torch.nn.Linear(HIDDEN, 2))
            with torch.no_grad():
                self.net[-1].weight.mul_(3.0)
            self.calls = 0

        def forward(self, t, y):
            self.calls += 1
            phase = torch.stack([torch.sin(2 * t), torch.cos(2 * t)]).expand(*y.shape[:-1], 2)
            return self.net(torch.cat([y, phase], dim=-1))

    field = Field()
    kept = [0]  # bytes of the interpolants the interpolating adjoint keeps
    y0 = torch.randn(BATCH, 2, generator=torch.Generator().manual_seed(1))

    if solver == "backprop":
        from course_utils.ode import odeint

        solve = lambda y, t: odeint(field, y, t, rtol=TOL, atol=TOL)
    elif solver.startswith("interpolated"):
        from course_utils.adjoint_checkpoint import odeint_interpolated_adjoint

        semi = solver.endswith("+semi")

        def solve(y, t):  # the kept interpolants are not saved tensors: count them here
            ys, stats = odeint_interpolated_adjoint(field, y, t, rtol=TOL, atol=TOL,
                                                    seminorm=semi, return_stats=True)
            kept[0] = stats.dense_bytes
            return ys
    elif solver.startswith("adjoint"):
        from course_utils.adjoint import odeint_adjoint

        semi = solver.endswith("+semi")
        solve = lambda y, t: odeint_adjoint(field, y, t, rtol=TOL, atol=TOL, seminorm=semi)
    else:
        import torchdiffeq

        options = {"norm": "seminorm"} if solver.endswith("+semi") else None
        solve = lambda y, t: torchdiffeq.odeint_adjoint(
            field, y, t, rtol=TOL, atol=TOL, method="dopri5", adjoint_options=options)

    def gradient(horizon_, hooks=None):
        start = y0.clone().requires_grad_(True)
        t = torch.tensor([0.0, horizon_])
        field.calls = 0
        if hooks is None:
            ys = solve(start, t)
        else:
            with torch.autograd.graph.saved_tensors_hooks(*hooks):
                ys = solve(start, t)
        forward_calls = field.calls
        loss = (ys[-1] ** 2).sum()
        loss.backward()
        return forward_calls, field.calls - forward_calls

    gradient(0.2)  # warm-up: imports, allocator, autograd engine
    before = reset_peak()
    saved = [0]

    def pack(tensor):
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    started = time.perf_counter()
    nfe_forward, nfe_backward = gradient(horizon, hooks=(pack, lambda tensor: tensor))
    seconds = time.perf_counter() - started
    after = peak_mib()

    # the number of accepted forward steps, from a separate no-grad solve
    from course_utils.ode import odeint

    with torch.no_grad():
        _, stats = odeint(field, y0, torch.tensor([0.0, horizon]), rtol=TOL, atol=TOL,
                          return_stats=True)
    return {"solver": solver, "T": horizon, "peak": after, "delta": after - before,
            "saved": (saved[0] + kept[0]) / 2**20, "nfe_forward": nfe_forward,
            "nfe_backward": nfe_backward, "steps": stats.num_accepted, "seconds": seconds}


def run_fresh(solver, horizon):
    # glibc: serve allocations >= 16 KiB by mmap and return freed memory at once, so that
    # the resident set follows the live tensors instead of keeping freed heap around
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MALLOC_MMAP_THRESHOLD_="16384", MALLOC_TRIM_THRESHOLD_="0")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker",
               json.dumps({"solver": solver, "T": horizon})]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {solver} T={horizon} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 1 and 5 only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--solvers", default=",".join(SOLVERS),
                        help="comma-separated subset of " + ", ".join(SOLVERS))
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(worker(spec["solver"], float(spec["T"]))))
        return 0

    solvers = args.solvers.split(",")
    horizons = HORIZONS[:2] if args.quick else HORIZONS
    try:
        import torchdiffeq  # noqa: F401
    except ImportError:
        print("torchdiffeq is not installed (pip install -e '.[bench]'): skipping its rows")
        solvers = [s for s in solvers if not s.startswith("tdq")]

    print(f"batch {BATCH}, MLP 4-{HIDDEN}-{HIDDEN}-2, float32, dopri5, rtol = atol = {TOL:g}; "
          "one fresh process per row\n")
    header = (f"| {'solver':<16} | {'T':>4} | {'steps':>5} | {'fwd NFE':>7} | {'bwd NFE':>7} "
              f"| {'saved MiB':>9} | {'Δpeak MiB':>9} | {'peak MiB':>8} | {'time s':>6} |")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    results = {}
    for solver in solvers:
        for horizon in horizons:
            row = run_fresh(solver, horizon)
            results[solver, horizon] = row
            print(f"| {solver:<16} | {horizon:>4g} | {row['steps']:>5} | {row['nfe_forward']:>7} "
                  f"| {row['nfe_backward']:>7} | {row['saved']:>9.2f} | {row['delta']:>9.1f} "
                  f"| {row['peak']:>8.0f} | {row['seconds']:>6.2f} |", flush=True)

    print("\ntargets:")
    first, last = horizons[0], horizons[-1]
    for solver in solvers:
        if solver == "backprop" or solver.startswith("interpolated") \
                or (solver, first) not in results:
            continue
        low = max(results[solver, first]["delta"], 1.0)  # 1 MiB floor: RSS granularity
        high = max(results[solver, last]["delta"], 1.0)
        ok = high <= 1.2 * low
        print(f"  {solver}: Δpeak T={last:g} / T={first:g} = {high / low:.2f} "
              f"({'flat within 1.2x' if ok else 'NOT flat'})")
    if ("backprop", first) in results:
        growth = results["backprop", last]["delta"] / max(results["backprop", first]["delta"], 1.0)
        steps = results["backprop", last]["steps"] / results["backprop", first]["steps"]
        print(f"  backprop: Δpeak grows {growth:.1f}x while the steps grow {steps:.1f}x")
    for solver in ("interpolated", "interpolated+semi"):
        if (solver, first) in results:
            for h in horizons:
                row = results[solver, h]
                ratio = row["nfe_backward"] / row["nfe_forward"]
                print(f"  {solver}: T={h:g} backward/forward NFE = {ratio:.2f}"
                      f"{' (<= 0.7)' if ratio <= 0.7 else ' (> 0.7)'}; saved MiB per forward "
                      f"step = {row['saved'] / row['steps']:.3f}")
            saved = results[solver, last]["saved"] / results[solver, first]["saved"]
            steps = results[solver, last]["steps"] / results[solver, first]["steps"]
            print(f"  {solver}: saved memory grows {saved:.1f}x while the steps kept grow "
                  f"{steps:.1f}x ({'no faster' if saved <= steps else 'FASTER'})")
    for base in ("adjoint", "tdq-adjoint"):
        if (base, first) in results and (base + "+semi", first) in results:
            fewer = all(results[base + "+semi", h]["nfe_backward"]
                        < results[base, h]["nfe_backward"] for h in horizons)
            print(f"  {base}: backward NFE with seminorm below without at every T: {fewer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
