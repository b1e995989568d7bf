r"""Steps of the adaptive stiff solvers (issue 14): embedded DIRK pairs and ode23s.

Both kinds solve linear systems with the *Newton matrix* ``W = I - hγJ``, ``J = ∂f/∂y``.
What makes them cheap is reuse, kept in one object that lives across steps,
:class:`JacobianState`:

* ``J`` is evaluated (the user's ``jac``, autograd for torch, forward differences for
  NumPy) when a solve starts, when Newton converged slowly in the last step (more than
  two iterations at a contraction rate above 1e-3, scipy's ``Radau`` rule), and when
  Newton fails with an old ``J`` (then the step is retried once with a fresh one);
* ``W`` is LU-factorised once per ``(J, hγ)`` and the factors serve every Newton
  iteration of every stage (the controller keeps ``h`` unchanged when it would grow by
  less than 20 %, so the factors also serve the next step, as in RADAU5).

:class:`AdaptiveDIRK` steps any diagonally implicit pair with ``b_hat`` (kvaerno3,
sdirk4, trbdf2); a Newton failure even with a fresh ``J`` returns ``error=None``, which
the stiff controller (``_switching.StiffController``) answers with a rejection and a
halved step, not an exception. :class:`Rosenbrock23` is the linearly implicit 2(3) pair
of MATLAB's ``ode23s`` (one ``J`` and one LU per step, no Newton iterations).

References: Hairer & Wanner, *Solving ODEs II*, Sec. IV.7 (Rosenbrock methods) and
IV.8 (simplified Newton, its stopping rule, the filtered error estimate); Shampine &
Reichelt, SIAM J. Sci. Comput. 18 (1997) (ode23s); scipy's ``Radau`` (Newton tolerance).
"""

import math

import numpy as np

from ._controllers import zero_atol_floor
from ._kernels import nonzero_pairs
from ._steps import StepResult, _hermite_from, lincomb
from ._stiff_tableaus import RADAU5, ROSENBROCK23_D, ROSENBROCK23_E32

__all__ = ["JacobianState", "StageNewton", "AdaptiveDIRK", "Rosenbrock23", "Radau5",
           "stability_at_infinity"]

NEWTON_MAX_ITERS = 7  # as RADAU5; a slower iteration is cheaper restarted with a smaller h


def stability_at_infinity(a, b):
    """``R(-∞)`` of the Runge–Kutta method ``(a, b)``: 0 for an L-stable one."""
    z = -1e12
    s = len(b)
    return float(1.0 + z * np.asarray(b) @ np.linalg.solve(np.eye(s) - z * np.asarray(a),
                                                           np.ones(s)))


class JacobianState:
    """``J = ∂f/∂y`` and the LU factors of ``I - hγJ``, kept across steps of one solve.

    ``evaluate(t, y, f)`` computes ``J`` at the start of a step (counted in
    ``stats.njev``); ``factor(gamma_h)`` factorises ``I - γhJ`` unless the factors for
    this ``(J, γh)`` exist (counted in ``stats.num_lu``); ``solve(rhs)`` applies them.
    ``is_fresh(t, y)`` says whether ``J`` was evaluated at this very step start.
    """

    def __init__(self, evaluator, backend, user_jac, stats):
        self.evaluator, self.backend, self.user_jac, self.stats = (
            evaluator, backend, user_jac, stats)
        self.matrix = None
        self.factors = None  # the LU factors for `factored_for`, the last γh factorised
        self.factored_for = None
        self.other_factors = None  # radau5's second (complex) system, for `other_for`
        self.other_for = None
        self.where = None  # (t, y) J was evaluated at
        self.refresh_wanted = False
        self._norm = None

    def evaluate(self, t, y, f):
        self.stats.njev += 1
        backend = self.backend
        if self.user_jac is not None:
            self.matrix = backend.user_jacobian(self.user_jac, self.evaluator.func_time(t),
                                                backend.detach(y))
        else:
            self.matrix = backend.jacobian(self.evaluator, t, backend.detach(y),
                                           backend.detach(f))
        self.factors = self.other_factors = None
        self.where = (t, y)
        self.refresh_wanted = False
        self._norm = None

    def is_fresh(self, t, y):
        return self.where is not None and self.where[0] == t and self.where[1] is y

    def attempt(self, t, y, f, newton_step):
        """Run ``newton_step()`` (a step's Newton solve, None if it fails) at ``(t, y)``.

        ``J`` is evaluated first if there is none or the last solve asked for a new one;
        if Newton fails with an old ``J`` it is retried once with a fresh one. Returns
        None when it failed with a fresh ``J`` (the step is then rejected).
        """
        if self.matrix is None or (self.refresh_wanted and not self.is_fresh(t, y)):
            self.evaluate(t, y, f)
        while True:
            result = newton_step()
            if result is not None or self.is_fresh(t, y):
                return result
            self.evaluate(t, y, f)  # Newton failed with an old J: retry with a new one

    def factor(self, gamma_h):
        if self.factors is None or gamma_h != self.factored_for:
            backend = self.backend
            self.factors = backend.lu_factor(backend.newton_matrix(self.matrix, gamma_h))
            self.factored_for = gamma_h
            self.stats.num_lu += 1

    def factor_pair(self, gamma_h, other_gamma_h):
        """Factorise ``I - γhJ`` for two values (``other`` may be complex): radau5's two
        systems; ``solve_other`` applies the second."""
        self.factor(gamma_h)
        if self.other_factors is None or other_gamma_h != self.other_for:
            backend = self.backend
            self.other_factors = backend.lu_factor(
                backend.newton_matrix(self.matrix, other_gamma_h))
            self.other_for = other_gamma_h
            self.stats.num_lu += 1

    def solve(self, rhs):
        return self.backend.lu_solve(self.factors, rhs)

    def solve_other(self, rhs):
        return self.backend.lu_solve(self.other_factors, rhs)

    def norm(self):
        """``‖J‖∞`` (an upper bound of its spectral radius), a Python float."""
        if self._norm is None:
            self._norm = self.backend.max_abs(self.backend.abs(self.matrix).sum(1))
        return self._norm


class StageNewton:
    r"""Simplified Newton for one implicit stage, :math:`Y = r + γh\,f(t, Y)`.

    Iterates :math:`W δ_k = -(Y_k - r - γh f(t, Y_k))` with the factors of
    :math:`W = I - γhJ` held by :class:`JacobianState`. With
    :math:`\|δ\|` the RMS norm scaled by ``atol + rtol |y_n|`` and the rate
    :math:`q_k = \|δ_k\| / \|δ_{k-1}\|`, it stops when
    :math:`η_k \|δ_k\| \le κ`, :math:`η_k = q_k / (1 - q_k)` (the error left, Hairer &
    Wanner II, Sec. IV.8), with :math:`κ = \max(10ε/\mathrm{rtol},
    \min(0.03, \mathrm{rtol}^{1/2}))` (scipy's ``Radau``) — so never before a rate has
    been measured, in the second iteration. (RADAU5 may stop after one, with a rate carried
    over from the last solve; but with ``J`` kept from an earlier step that misses a
    problem that has changed — a rate constant that jumps from -1e4 to -0.1 — and the
    error estimate, filtered with the same old ``J``, then misses it too:
    ``tests/test_ode_stiff_adaptive.py`` has that problem.) It gives up — returns None —
    when :math:`q_k \ge 1`, when :math:`q_k^{k_{max}-k} \|δ_k\| / (1 - q_k) > κ` (it
    would not converge in the iterations left), or after ``max_iters``.
    """

    def __init__(self, evaluator, backend, jacobian, stats, max_iters):
        self.evaluator, self.backend, self.jacobian, self.stats = (
            evaluator, backend, jacobian, stats)
        self.max_iters = max_iters
        self.tol = 0.03

    def set_tolerance(self, rtol):
        rtol = float(np.min(np.asarray(rtol, dtype=float)))
        eps = self.backend.eps
        self.tol = 0.03 if rtol <= 0 else max(10.0 * eps / rtol, min(0.03, math.sqrt(rtol)))

    def rate(self, k, norm, previous):
        """The contraction rate after iteration ``k`` (0.0 after the first), or None when
        Newton should give up: a non-finite increment, divergence, or too slow to
        converge in the iterations left."""
        if not math.isfinite(norm):
            return None
        if previous is None:
            return 0.0
        rate = norm / previous if previous > 0 else 0.0
        if rate >= 1.0 or rate ** (self.max_iters - k) / (1.0 - rate) * norm > self.tol:
            return None
        return rate

    def converged(self, norm, previous, rate):
        """Done once the error left, ``rate/(1 - rate)·‖δ‖``, is within the tolerance."""
        return norm == 0.0 or (previous is not None and rate / (1.0 - rate) * norm <= self.tol)

    def solve(self, t, rhs, gamma_h, guess, scale):
        """``(Y, rate, iterations)``, or None if Newton fails."""
        backend, evaluator, stats = self.backend, self.evaluator, self.stats
        y = guess
        previous = None
        for k in range(1, self.max_iters + 1):
            f_y = evaluator(t, y)
            stats.num_newton_iters += 1
            delta = self.jacobian.solve(rhs - y + f_y * gamma_h)
            with backend.no_grad():
                norm = backend.rms(backend.detach(delta) / scale)
            rate = self.rate(k, norm, previous)
            if rate is None:
                break
            y = y + delta
            if self.converged(norm, previous, rate):
                return y, rate, k
            previous = norm
        return None


class _NewtonStages:
    """What the Newton-based steps share: the tolerances, which also set Newton's.

    ``floor`` is ``atol`` plus, when ``atol`` is 0 somewhere, ε⁴ (as the controller does):
    a component that is exactly 0 would otherwise make Newton's scaled norm 0/0.
    """

    rtol, atol, floor = 1e-7, 1e-9, 1e-9  # until `set_tolerances` (the controller's)

    def set_tolerances(self, rtol, atol):
        self.rtol, self.atol = rtol, atol
        tiny = zero_atol_floor(atol, self.backend.eps)
        self.floor = atol + tiny if tiny else atol
        self.newton.set_tolerance(rtol)


class AdaptiveDIRK(_NewtonStages):
    r"""One step of an embedded diagonally implicit pair, Newton stages, filtered estimate.

    With :math:`r_i = y + h\sum_{j<i} a_{ij}k_j`, an explicit stage (``a_ii = 0``) is
    :math:`k_i = f(t + c_ih, r_i)`; an implicit one solves
    :math:`Y_i = r_i + h a_{ii} f(t + c_i h, Y_i)` (:class:`StageNewton`, predictor
    :math:`r_i + h a_{ii} k_{i-1}`) and sets :math:`k_i = (Y_i - r_i)/(h a_{ii})`. The
    methods here are stiffly accurate: ``y_new`` is the last stage value. The raw
    error :math:`h\sum_i (b_i - \hat b_i) k_i` is filtered, :math:`(I - hγJ)^{-1}` times
    it, when the embedded method is not L-stable (all three here): on a stiff
    component it would otherwise not vanish and force tiny steps (HW II, Sec. IV.8).
    Dense output: the cubic Hermite polynomial through ``y``, ``f`` at both ends.
    """

    needs_end_derivative = True

    def __init__(self, tableau, evaluator, backend, jacobian, newton):
        self.evaluator, self.backend, self.jacobian, self.newton = (
            evaluator, backend, jacobian, newton)
        s = tableau.num_stages
        self.stages = tuple(
            (float(tableau.c[i]), nonzero_pairs(tableau.a[i, :i]), float(tableau.a[i, i]))
            for i in range(s)
        )
        diagonal = {d for _, _, d in self.stages if d != 0.0}
        if len(diagonal) != 1:
            raise ValueError(f"Tableau {tableau.name!r} must have one non-zero diagonal "
                             "value (a singly diagonally implicit method).")
        self.gamma = diagonal.pop()
        self.b = nonzero_pairs(tableau.b)
        self.e = nonzero_pairs(tableau.error_weights)
        self.stiffly_accurate = bool(np.array_equal(tableau.a[-1], tableau.b))
        self.filter_error = abs(stability_at_infinity(tableau.a, tableau.b_hat)) > 1e-6

    def step(self, t, h, t_new, y, f):
        if f is None:
            f = self.evaluator(t, y)
        result = self.jacobian.attempt(t, y, f, lambda: self._attempt(t, h, t_new, y, f))
        if result is None:  # failed with a fresh J: the controller rejects, smaller h
            return StepResult(y, f, None, None)
        return result

    def _attempt(self, t, h, t_new, y, f):
        backend, jacobian = self.backend, self.jacobian
        gamma_h = h * self.gamma
        jacobian.factor(gamma_h)
        with backend.no_grad():
            scale = self.floor + self.rtol * backend.abs(backend.detach(y))
        ks = []
        k_previous, stage_value = f, y
        worst_rate, most_iters = 0.0, 0
        for i, (c, pairs, diagonal) in enumerate(self.stages):
            t_stage = t_new if c == 1.0 else t + c * h
            rhs = lincomb(y, h, pairs, ks)
            if diagonal == 0.0:
                k = f if (i == 0 and c == 0.0) else self.evaluator(t_stage, rhs)
                stage_value = rhs
            else:
                solved = self.newton.solve(t_stage, rhs, gamma_h, rhs + k_previous * gamma_h,
                                           scale)
                if solved is None:  # the extrapolated guess failed: start from Y_{i-1}
                    solved = self.newton.solve(t_stage, rhs, gamma_h, stage_value, scale)
                if solved is None:
                    return None
                stage_value, rate, iters = solved
                worst_rate, most_iters = max(worst_rate, rate), max(most_iters, iters)
                k = (stage_value - rhs) * (1.0 / gamma_h)
            ks.append(k)
            k_previous = k
        y_new = stage_value if self.stiffly_accurate else lincomb(y, h, self.b, ks)
        with backend.no_grad():
            error = lincomb(None, h, self.e, [backend.detach(k) for k in ks])
            if self.filter_error:
                error = jacobian.solve(error)
        jacobian.refresh_wanted = most_iters > 2 and worst_rate > 1e-3
        return StepResult(y_new, f, None, error)

    def interpolate(self, t, h, y, result, theta):
        return _hermite_from(result, t, h, y, theta)


class Rosenbrock23:
    r"""The Rosenbrock 2(3) pair of MATLAB's ``ode23s`` (Shampine & Reichelt 1997).

    With :math:`d = 1/(2+\sqrt2)`, :math:`W = I - hdJ` and :math:`T ≈ ∂f/∂t`
    (a forward difference towards ``t_new``, one evaluation of ``f``):

    .. math::
        W k_1 = f_0 + hdT, \quad
        F_1 = f(t + h/2, y + hk_1/2), \quad
        W(k_2 - k_1) = F_1 - k_1, \quad
        y_{new} = y + hk_2,

    :math:`F_2 = f(t_{new}, y_{new})` (the next step's :math:`f_0`),
    :math:`W k_3 = F_2 - e_{32}(k_2 - F_1) - 2(k_1 - f_0) + hdT`,
    :math:`e_{32} = 6 + \sqrt2`, and the error estimate
    :math:`h(k_1 - 2k_2 + k_3)/6`. Order 2, L-stable; ``J`` is evaluated and ``W``
    factorised once per step (a rejected step retries with the same ``J``). Dense output
    :math:`y + h[θ(1-θ)k_1 + θ(θ-2d)k_2]/(1-2d)`, the code's own interpolant.
    """

    needs_end_derivative = False

    def __init__(self, evaluator, backend, jacobian, stats):
        self.evaluator, self.backend, self.jacobian, self.stats = (
            evaluator, backend, jacobian, stats)
        self.root_eps = math.sqrt(backend.eps)

    def set_tolerances(self, rtol, atol):
        pass

    def step(self, t, h, t_new, y, f):
        evaluator, jacobian = self.evaluator, self.jacobian
        if f is None:
            f = evaluator(t, y)
        if not jacobian.is_fresh(t, y):
            jacobian.evaluate(t, y, f)
        d, e32 = ROSENBROCK23_D, ROSENBROCK23_E32
        dh = d * h
        jacobian.factor(dh)
        dt = math.copysign(min(self.root_eps * max(abs(t), abs(h)), abs(h)), h)
        t_shift = t + dt
        t_derivative = (evaluator(t_shift, y) - f) * (1.0 / (t_shift - t))
        k1 = jacobian.solve(f + t_derivative * dh)
        f1 = evaluator(t + 0.5 * h, y + k1 * (0.5 * h))
        k2 = jacobian.solve(f1 - k1) + k1
        y_new = y + k2 * h
        f2 = evaluator(t_new, y_new)
        backend = self.backend
        with backend.no_grad():
            k1d, k2d = backend.detach(k1), backend.detach(k2)
            k3 = jacobian.solve(backend.detach(f2) - (k2d - backend.detach(f1)) * e32
                                - (k1d - backend.detach(f)) * 2.0
                                + backend.detach(t_derivative) * dh)
            error = (k1d - k2d * 2.0 + k3) * (h / 6.0)
        self.stats.num_newton_iters += 3  # three linear stage solves
        return StepResult(y_new, f, f2, error, (k1, k2))

    def interpolate(self, t, h, y, result, theta):
        k1, k2 = result.stages
        d = ROSENBROCK23_D
        w1 = theta * (1.0 - theta) / (1.0 - 2.0 * d)
        w2 = theta * (theta - 2.0 * d) / (1.0 - 2.0 * d)
        return y + (k1 * w1 + k2 * w2) * h


class Radau5(_NewtonStages):
    r"""One step of the Radau IIA method of order 5 (``radau5``): three coupled stages.

    The stage increments :math:`z_i = Y_i - y` solve :math:`(A^{-1} \otimes I) Z = hF(Z)`.
    Simplified Newton, with ``J`` held fixed, is transformed by the eigenvectors of
    :math:`A^{-1}` (``_stiff_tableaus.RadauIIA5``): with :math:`w = V^{-1}z` (stage by
    stage) each iteration solves

    .. math::
        (I - \tfrac{h}{\mu} J)\,Δw_\mu = -w_\mu + \tfrac{h}{\mu}\,(V^{-1}F)_\mu

    for the real eigenvalue :math:`\mu` and for one of the complex pair (a complex
    system; the other is its conjugate), then :math:`z = V w`. Both LUs are kept across
    iterations and steps as for the DIRK pairs. The first guess extrapolates the last
    accepted step's collocation polynomial. Newton stops by :class:`StageNewton`'s rule
    on the norm of :math:`Δz` over all three stages, but only once a contraction rate
    has been measured (at least two iterations, as scipy's ``Radau``): with a Jacobian
    kept from an earlier step, a one-iteration acceptance can miss that the problem has
    changed — and the filtered error estimate, which uses the same old ``J``, would not
    notice either.

    The error estimate :math:`(I - hγ_0J)^{-1}[γ_0 h f(t, y) + \sum_j e_j z_j]` is the
    filtered difference to an order-3 formula; on a step without a Newton guess (the
    first, or the first after dopri5 in `auto`) and after a rejection,
    if it is above tolerance it is recomputed once with :math:`f(t, y + \mathrm{err})`
    in place of :math:`f(t, y)`, which removes its stiff components (Hairer & Wanner II,
    Sec. IV.8, eqs. (8.19)–(8.20)). Dense output: the collocation polynomial.
    Real states only (the two-system trick pairs a complex stage with its conjugate).
    """

    needs_end_derivative = False

    def __init__(self, evaluator, backend, jacobian, stats, max_iters):
        self.evaluator, self.backend, self.jacobian, self.stats = (
            evaluator, backend, jacobian, stats)
        self.max_iters = max_iters
        data = RADAU5
        self.c = [float(c) for c in data.tableau.c]
        self.mu_real, self.mu_complex = data.mu_real, data.mu_complex
        self.v_real = [float(v) for v in data.v_real]
        self.v_complex = [complex(v) for v in data.v_complex]
        # ((j, coefficient), ...) for `lincomb`: rows of V⁻¹ and the error weights
        self.v_inverse_real = tuple(enumerate(float(v) for v in data.v_inverse_real))
        self.v_inverse_complex = tuple(enumerate(complex(v) for v in data.v_inverse_complex))
        self.gamma0 = data.gamma0
        self.e = tuple(enumerate(float(v) for v in data.error_weights))
        self.dense = [[float(v) for v in row] for row in data.dense]
        self.newton = StageNewton(evaluator, backend, jacobian, stats, max_iters)
        self.last = None  # (t, h, z) of the last attempt
        self.accepted = None  # (t, h, z) of the last accepted step

    def step(self, t, h, t_new, y, f):
        if f is None:
            f = self.evaluator(t, y)
        retry = self.last is not None and self.last[0] == t
        if self.last is not None and not retry:  # the loop moved on: it was accepted
            self.accepted = self.last
        result = self.jacobian.attempt(
            t, y, f, lambda: self._attempt(t, h, t_new, y, f, improve=retry))
        if result is None:  # failed with a fresh J: the controller rejects, smaller h
            self.last = (t, h, None)
            return StepResult(y, f, None, None)
        self.last = (t, h, result.stages)
        return result

    def _collocation(self, z, theta):
        """``Σ_i L_i(θ) z_i``: the collocation polynomial through the stage increments."""
        weights = [sum(d * theta ** (k + 1) for k, d in enumerate(row)) for row in self.dense]
        return lincomb(None, 1.0, tuple(enumerate(weights)), z)

    def _from_w(self, w_real, w_complex):
        """``z_i = V_i,real w_real + 2 Re(V_i,complex w_complex)``."""
        return [w_real * vr + (w_complex * vc).real * 2.0
                for vr, vc in zip(self.v_real, self.v_complex)]

    def _guess(self, t, h, y):
        previous = self.accepted
        if previous is None or previous[2] is None:
            return None
        t_old, h_old, z_old = previous
        if abs(t_old + h_old - t) > 1e-8 * max(abs(h_old), abs(t)):
            return None
        # the polynomial through y_old (θ = 0) and the old stages, continued past θ = 1,
        # minus its value there, z_old[-1] = y - y_old
        return [self._collocation(z_old, 1.0 + c * h / h_old) - z_old[-1] for c in self.c]

    def _attempt(self, t, h, t_new, y, f, improve):
        backend, evaluator, jacobian, stats = (
            self.backend, self.evaluator, self.jacobian, self.stats)
        g_real, g_complex = h / self.mu_real, h / self.mu_complex
        jacobian.factor_pair(g_real, g_complex)
        with backend.no_grad():
            y_detached = backend.detach(y)
            scale = self.floor + self.rtol * backend.abs(y_detached)
        z = self._guess(t, h, y)
        if z is None:  # the first step, or the first after dopri5 (auto): refine as well
            z = [y * 0.0 for _ in self.c]
            improve = True
        w_real = lincomb(None, 1.0, self.v_inverse_real, z)
        w_complex = lincomb(None, 1.0, self.v_inverse_complex, z)
        times = [t_new if c == 1.0 else t + c * h for c in self.c]
        newton = self.newton
        previous, converged = None, False
        for k in range(1, self.max_iters + 1):
            fs = [evaluator(ti, y + zi) for ti, zi in zip(times, z)]
            stats.num_newton_iters += 1
            d_real = jacobian.solve(lincomb(-w_real, g_real, self.v_inverse_real, fs))
            d_complex = jacobian.solve_other(
                lincomb(-w_complex, g_complex, self.v_inverse_complex, fs))
            with backend.no_grad():
                dz = self._from_w(backend.detach(d_real), backend.detach(d_complex))
                norm = math.sqrt(sum(backend.rms(d / scale) ** 2 for d in dz) / 3.0)
            rate = newton.rate(k, norm, previous)
            if rate is None:
                break
            w_real, w_complex = w_real + d_real, w_complex + d_complex
            z = self._from_w(w_real, w_complex)
            if newton.converged(norm, previous, rate):
                converged = True
                break
            previous = norm
        if not converged:
            return None
        jacobian.refresh_wanted = k > 2 and rate > 1e-3
        y_new = y + z[-1]
        with backend.no_grad():
            zd = [backend.detach(zi) for zi in z]
            stiff_part = lincomb(None, 1.0, self.e, zd)
            error = jacobian.solve(backend.detach(f) * (self.gamma0 * h) + stiff_part)
            if improve:
                abs_new = backend.abs(backend.detach(y_new))
                big = backend.maximum(backend.abs(y_detached), abs_new)
                ratio = backend.rms(error / (self.floor + self.rtol * big))
                if ratio > 1.0:
                    f_shifted = backend.detach(evaluator(t, y_detached + error))
                    error = jacobian.solve(f_shifted * (self.gamma0 * h) + stiff_part)
        return StepResult(y_new, f, None, error, tuple(z))

    def interpolate(self, t, h, y, result, theta):
        return y + self._collocation(result.stages, theta)
