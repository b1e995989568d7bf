"""Test initial value problems with exact or reference solutions.

Each problem is a :class:`Problem`; get one with :func:`get_problem` (``PROBLEMS``
lists the names). The right-hand sides are written in plain arithmetic on the last
axis of the state, so they work on NumPy arrays *and* torch tensors (also batched,
shape ``(..., n)``). Problems without a closed form get a reference solution from
``scipy.integrate.solve_ivp`` at tight tolerances, computed once and cached.

Used in notebooks ``01_one_step_methods`` (decay, logistic, oscillator, stiff
linear), ``02_runge_kutta_multistep`` (all of them, for convergence and efficiency
studies) and ``06_neural_odes`` (data from the oscillator and Lotka–Volterra).
"""

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["Problem", "PROBLEMS", "get_problem", "list_problems"]


# ----------------------------------------------------------------------------- helpers
def _is_torch(x):
    return type(x).__module__.startswith("torch")


def _stack(parts, like):
    """Stack the components along a new last axis, NumPy or torch like ``like``."""
    if type(like) is np.ndarray and like.ndim == 1:
        return np.array(parts)  # the components are scalars: 5x faster than np.stack
    if _is_torch(like):
        return sys.modules["torch"].stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def _sin(x):
    return x.sin() if _is_torch(x) else np.sin(x)


def _cos(x):
    return x.cos() if _is_torch(x) else np.cos(x)


def _matvec(matrix, y, cache):
    """``A y`` for a state ``y`` of shape ``(..., n)`` (NumPy or torch)."""
    if _is_torch(y):
        key = (y.dtype, y.device)
        if key not in cache:
            cache[key] = y.new_tensor(matrix)
        return y @ cache[key].T
    return y @ matrix.T


def _times(t):
    arr = np.asarray(t, dtype=float)
    return arr, arr.ndim == 0


# ----------------------------------------------------------------------------- Problem
@dataclass(frozen=True, eq=False)
class Problem:
    """An initial value problem ``y' = func(t, y)``, ``y(t0) = y0`` on ``[t0, t1]``.

    Attributes
    ----------
    name : str
        Registry name.
    func : callable
        ``func(t, y)`` for ``y`` of shape ``(..., n)``, NumPy or torch.
    y0 : ndarray, shape (n,)
        Initial state.
    t0, t1 : float
        The interval of integration.
    exact : callable or None
        ``exact(t)``: the exact solution, shape ``(n,)`` for a scalar ``t`` and
        ``(len(t), n)`` for an array.
    jac : callable or None
        ``jac(t, y)`` -> ``(n, n)`` Jacobian ∂f/∂y (NumPy, unbatched ``y``).
    params : dict
        The parameters used to build the problem.
    stiff : bool
        Whether explicit methods need tiny steps on it.
    description : str
        One paragraph: the model and where it comes from.
    reference_method, reference_rtol, reference_atol
        How :meth:`reference` is computed when there is no exact solution.
    """

    name: str
    func: Callable
    y0: np.ndarray
    t0: float
    t1: float
    exact: Optional[Callable] = None
    jac: Optional[Callable] = None
    params: dict = field(default_factory=dict)
    stiff: bool = False
    description: str = ""
    reference_method: str = "DOP853"
    reference_rtol: float = 1e-12
    reference_atol: float = 1e-12
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def dim(self) -> int:
        """Dimension ``n`` of the state."""
        return int(self.y0.size)

    def reference(self, t):
        """A reference solution by ``solve_ivp`` at tight tolerances (cached).

        Parameters
        ----------
        t : float or array_like, shape (m,)
            Times in the direction of integration from ``t0`` (any order).

        Returns
        -------
        ndarray, shape (n,) or (m, n)
        """
        from scipy.integrate import solve_ivp

        times, scalar = _times(t)
        flat = np.atleast_1d(times)
        far = max(self.t1, float(flat.max())) if np.all(flat >= self.t0) else None
        if far is None:
            if np.any(flat > self.t0):
                raise ValueError("`t` must lie on one side of `t0`.")
            far = min(self.t1, float(flat.min()))
        key = ("solution", far)
        if key not in self._cache:
            jac = self.jac if self.reference_method in ("Radau", "BDF", "LSODA") else None
            kwargs = {"jac": jac} if jac is not None else {}
            sol = solve_ivp(
                self.func,
                (self.t0, far),
                self.y0,
                method=self.reference_method,
                rtol=self.reference_rtol,
                atol=self.reference_atol,
                dense_output=True,
                **kwargs,
            )
            if not sol.success:  # pragma: no cover - the references are tested
                raise RuntimeError(f"Reference solve of {self.name!r} failed: {sol.message}")
            self._cache[key] = sol
        sol = self._cache[key]
        values = sol.sol(flat).T
        values[flat == far] = sol.y[:, -1]
        return values[0] if scalar else values

    def solution(self, t):
        """The exact solution if known, else :meth:`reference`; shape as ``exact``."""
        if self.exact is not None:
            return self.exact(t)
        return self.reference(t)


# ----------------------------------------------------------------------------- problems
def decay(lam=-1.0, y0=1.0, t1=2.0):
    r"""Dahlquist's test equation :math:`y' = \lambda y`, exact :math:`y = y_0 e^{\lambda t}`.

    The model problem of stability analysis, in the convention of weeks 0–2 (``lam < 0``
    decays; the default ``lam = -1`` is ``y' = -y``). Works on NumPy and torch.
    """

    def func(t, y):
        return lam * y

    def exact(t):
        times, _ = _times(t)
        return (y0 * np.exp(lam * times))[..., None]

    return Problem(
        "decay",
        func,
        np.array([float(y0)]),
        0.0,
        float(t1),
        exact=exact,
        jac=lambda t, y: np.array([[lam]]),
        params={"lam": lam, "y0": y0, "t1": t1},
        stiff=-lam * t1 > 500,
        description=decay.__doc__,
    )


def logistic(rate=1.0, capacity=1.0, y0=0.1, t1=10.0):
    r"""Logistic growth :math:`y' = r y (1 - y / K)`,
    exact :math:`y = K / (1 + (K / y_0 - 1) e^{-rt})` (Verhulst 1838)."""

    def func(t, y):
        return rate * y * (1.0 - y / capacity)

    def exact(t):
        times, _ = _times(t)
        return (capacity / (1.0 + (capacity / y0 - 1.0) * np.exp(-rate * times)))[..., None]

    def jac(t, y):
        return np.array([[rate * (1.0 - 2.0 * y[0] / capacity)]])

    return Problem(
        "logistic",
        func,
        np.array([float(y0)]),
        0.0,
        float(t1),
        exact=exact,
        jac=jac,
        params={"rate": rate, "capacity": capacity, "y0": y0, "t1": t1},
        description=logistic.__doc__,
    )


def harmonic_oscillator(omega=1.0, x0=1.0, v0=0.0, t1=10.0):
    r"""Harmonic oscillator :math:`x'' = -\omega^2 x` as :math:`y = (x, v)`.

    Exact :math:`x = x_0 \cos \omega t + (v_0/\omega) \sin \omega t`. Energy
    :math:`(v^2 + \omega^2 x^2)/2` is conserved. Works on NumPy and torch.
    """

    def func(t, y):
        return _stack([y[..., 1], -(omega**2) * y[..., 0]], y)

    def exact(t):
        times, _ = _times(t)
        c, s = np.cos(omega * times), np.sin(omega * times)
        return np.stack([x0 * c + v0 / omega * s, -x0 * omega * s + v0 * c], axis=-1)

    return Problem(
        "harmonic_oscillator",
        func,
        np.array([float(x0), float(v0)]),
        0.0,
        float(t1),
        exact=exact,
        jac=lambda t, y: np.array([[0.0, 1.0], [-(omega**2), 0.0]]),
        params={"omega": omega, "x0": x0, "v0": v0, "t1": t1},
        description=harmonic_oscillator.__doc__,
    )


def pendulum(gravity=9.81, length=1.0, angle0=1.0, omega0=0.0, t1=10.0):
    r"""Nonlinear pendulum :math:`\theta'' = -(g/L) \sin\theta` as :math:`y = (\theta, \omega)`.

    No elementary closed form: the reference is DOP853 at rtol = atol = 1e-12.
    """
    ratio = gravity / length

    def func(t, y):
        return _stack([y[..., 1], -ratio * _sin(y[..., 0])], y)

    def jac(t, y):
        return np.array([[0.0, 1.0], [-ratio * np.cos(y[0]), 0.0]])

    return Problem(
        "pendulum",
        func,
        np.array([float(angle0), float(omega0)]),
        0.0,
        float(t1),
        jac=jac,
        params={"gravity": gravity, "length": length, "angle0": angle0, "omega0": omega0, "t1": t1},
        description=pendulum.__doc__,
    )


def lotka_volterra(alpha=1.5, beta=1.0, delta=1.0, gamma=3.0, prey0=10.0, predator0=5.0, t1=15.0):
    r"""Lotka–Volterra predator–prey model

    .. math:: x' = \alpha x - \beta x y, \qquad y' = \delta x y - \gamma y.

    Periodic orbits; the reference is DOP853 at rtol = atol = 1e-12 (the parameters
    are those of scipy's ``solve_ivp`` example).
    """

    def func(t, y):
        prey, predator = y[..., 0], y[..., 1]
        return _stack(
            [alpha * prey - beta * prey * predator, delta * prey * predator - gamma * predator],
            y,
        )

    def jac(t, y):
        prey, predator = y
        return np.array(
            [[alpha - beta * predator, -beta * prey], [delta * predator, delta * prey - gamma]]
        )

    return Problem(
        "lotka_volterra",
        func,
        np.array([float(prey0), float(predator0)]),
        0.0,
        float(t1),
        jac=jac,
        params={
            "alpha": alpha,
            "beta": beta,
            "delta": delta,
            "gamma": gamma,
            "prey0": prey0,
            "predator0": predator0,
            "t1": t1,
        },
        description=lotka_volterra.__doc__,
    )


def van_der_pol(mu=1.0, x0=2.0, v0=0.0, t1=None):
    r"""Van der Pol oscillator :math:`x'' = \mu (1 - x^2) x' - x` as :math:`y = (x, v)`.

    Non-stiff for small μ (reference: DOP853 at 1e-12), stiff for large μ (μ > 10:
    reference Radau at rtol = 1e-10, atol = 1e-12). The default ``t1`` is 20 for
    μ <= 10, else about one period, (3 - 2 ln 2) μ.
    """
    if t1 is None:
        t1 = 20.0 if mu <= 10 else (3.0 - 2.0 * math.log(2.0)) * mu

    def func(t, y):
        x, v = y[..., 0], y[..., 1]
        return _stack([v, mu * (1.0 - x * x) * v - x], y)

    def jac(t, y):
        x, v = y
        return np.array([[0.0, 1.0], [-2.0 * mu * x * v - 1.0, mu * (1.0 - x * x)]])

    stiff = mu > 10
    return Problem(
        "van_der_pol",
        func,
        np.array([float(x0), float(v0)]),
        0.0,
        float(t1),
        jac=jac,
        params={"mu": mu, "x0": x0, "v0": v0, "t1": t1},
        stiff=stiff,
        description=van_der_pol.__doc__,
        reference_method="Radau" if stiff else "DOP853",
        reference_rtol=1e-10 if stiff else 1e-12,
    )


def _solve_kepler(mean_anomaly, eccentricity):
    """Eccentric anomaly E with E - e sin E = M (Newton, vectorised)."""
    big_e = np.where(eccentricity > 0.8, np.pi, mean_anomaly)
    for _ in range(50):
        step = (big_e - eccentricity * np.sin(big_e) - mean_anomaly) / (
            1.0 - eccentricity * np.cos(big_e)
        )
        big_e = big_e - step
        if np.all(np.abs(step) < 1e-15):
            break
    return big_e


def kepler(eccentricity=0.5, t1=2.0 * math.pi):
    r"""The two-body (Kepler) problem :math:`q'' = -q / |q|^3`, ``y = (q1, q2, p1, p2)``.

    Starts at periapsis of an ellipse with semi-major axis 1 and eccentricity ``e``
    (period 2π). Exact solution from Kepler's equation :math:`E - e \sin E = t`:
    :math:`q = (\cos E - e, \sqrt{1-e^2} \sin E)`. Energy and angular momentum are
    conserved (HNW I, Sec. II.10).
    """
    e = float(eccentricity)
    if not 0.0 <= e < 1.0:
        raise ValueError(f"`eccentricity` must be in [0, 1), got {eccentricity!r}.")
    root = math.sqrt(1.0 - e * e)

    def func(t, y):
        q1, q2 = y[..., 0], y[..., 1]
        r2 = q1 * q1 + q2 * q2
        r3 = r2 * r2**0.5
        return _stack([y[..., 2], y[..., 3], -q1 / r3, -q2 / r3], y)

    def exact(t):
        times, _ = _times(t)
        big_e = _solve_kepler(np.mod(times, 2.0 * np.pi), e)
        cos_e, sin_e = np.cos(big_e), np.sin(big_e)
        denom = 1.0 - e * cos_e
        return np.stack([cos_e - e, root * sin_e, -sin_e / denom, root * cos_e / denom], axis=-1)

    y0 = np.array([1.0 - e, 0.0, 0.0, math.sqrt((1.0 + e) / (1.0 - e))])
    return Problem(
        "kepler",
        func,
        y0,
        0.0,
        float(t1),
        exact=exact,
        params={"eccentricity": e, "t1": t1},
        description=kepler.__doc__,
    )


def stiff_linear(stiffness=1000.0, t1=2.0):
    r"""A stiff linear system :math:`y' = A y` with eigenvalues -1 and -``stiffness``.

    :math:`A = \tfrac12\begin{pmatrix} -1-s & 1-s \\ 1-s & -1-s\end{pmatrix}`,
    ``y0 = (2, 0)``; exact :math:`y = e^{At} y_0` (``scipy.linalg.expm``). Explicit
    methods need ``h < 2/s``; A-stable implicit methods do not. Works on NumPy and torch.
    """
    s = float(stiffness)
    matrix = 0.5 * np.array([[-1.0 - s, 1.0 - s], [1.0 - s, -1.0 - s]])
    cache = {}

    def func(t, y):
        return _matvec(matrix, y, cache)

    def exact(t):
        from scipy.linalg import expm

        times, scalar = _times(t)
        flat = np.atleast_1d(times)
        values = np.stack([expm(matrix * ti) @ np.array([2.0, 0.0]) for ti in flat])
        return values[0] if scalar else values

    return Problem(
        "stiff_linear",
        func,
        np.array([2.0, 0.0]),
        0.0,
        float(t1),
        exact=exact,
        jac=lambda t, y: matrix.copy(),
        params={"stiffness": s, "t1": t1},
        stiff=s > 100,
        description=stiff_linear.__doc__,
    )


def robertson(t1=40.0):
    r"""Robertson's chemical kinetics, the classic stiff test (HW II, Sec. IV.1):

    .. math:: y_1' = -0.04 y_1 + 10^4 y_2 y_3,\quad
              y_2' = 0.04 y_1 - 10^4 y_2 y_3 - 3\cdot10^7 y_2^2,\quad
              y_3' = 3\cdot10^7 y_2^2,

    ``y0 = (1, 0, 0)``; ``y1 + y2 + y3 = 1`` is conserved. Reference: Radau at
    rtol = 1e-10, atol = 1e-14.
    """

    def func(t, y):
        y1, y2, y3 = y[..., 0], y[..., 1], y[..., 2]
        fast = 1e4 * y2 * y3
        square = 3e7 * y2 * y2
        return _stack([-0.04 * y1 + fast, 0.04 * y1 - fast - square, square], y)

    def jac(t, y):
        _, y2, y3 = y
        return np.array(
            [
                [-0.04, 1e4 * y3, 1e4 * y2],
                [0.04, -1e4 * y3 - 6e7 * y2, -1e4 * y2],
                [0.0, 6e7 * y2, 0.0],
            ]
        )

    return Problem(
        "robertson",
        func,
        np.array([1.0, 0.0, 0.0]),
        0.0,
        float(t1),
        jac=jac,
        params={"t1": t1},
        stiff=True,
        description=robertson.__doc__,
        reference_method="Radau",
        reference_rtol=1e-10,
        reference_atol=1e-14,
    )


def hires(t1=321.8122):
    r"""HIRES, "High Irradiance RESponse" of plant photomorphogenesis: eight linear and
    nonlinear chemical reactions, stiff (Schäfer 1975; Hairer & Wanner II, Sec. IV.10;
    the IVP test set of Mazzia & Magherini).

    ``y0 = (1, 0, 0, 0, 0, 0, 0, 0.0057)`` on ``[0, 321.8122]``; the Jacobian's
    eigenvalues reach about -2·10⁴ where ``y8`` meets ``y6`` (the term ``280 y6 y8``).
    Reference: Radau at rtol = 1e-11, atol = 1e-13. Works on NumPy and torch.
    """

    def func(t, y):
        y1, y2, y3, y4, y5, y6, y7, y8 = (y[..., i] for i in range(8))
        bind = 280.0 * y6 * y8
        return _stack(
            [
                -1.71 * y1 + 0.43 * y2 + 8.32 * y3 + 0.0007,
                1.71 * y1 - 8.75 * y2,
                -10.03 * y3 + 0.43 * y4 + 0.035 * y5,
                8.32 * y2 + 1.71 * y3 - 1.12 * y4,
                -1.745 * y5 + 0.43 * y6 + 0.43 * y7,
                -bind + 0.69 * y4 + 1.71 * y5 - 0.43 * y6 + 0.69 * y7,
                bind - 1.81 * y7,
                -bind + 1.81 * y7,
            ],
            y,
        )

    def jac(t, y):
        y6, y8 = y[5], y[7]
        j = np.zeros((8, 8))
        j[0, :3] = [-1.71, 0.43, 8.32]
        j[1, :2] = [1.71, -8.75]
        j[2, 2:5] = [-10.03, 0.43, 0.035]
        j[3, 1:4] = [8.32, 1.71, -1.12]
        j[4, 4:7] = [-1.745, 0.43, 0.43]
        j[5, 3:8] = [0.69, 1.71, -0.43 - 280.0 * y8, 0.69, -280.0 * y6]
        j[6, 5:8] = [280.0 * y8, -1.81, 280.0 * y6]
        j[7, 5:8] = [-280.0 * y8, 1.81, -280.0 * y6]
        return j

    return Problem(
        "hires",
        func,
        np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0057]),
        0.0,
        float(t1),
        jac=jac,
        params={"t1": t1},
        stiff=True,
        description=hires.__doc__,
        reference_method="Radau",
        reference_rtol=1e-11,
        reference_atol=1e-13,
    )


def van_der_pol_scaled(epsilon=1e-6, t1=2.0):
    r"""Van der Pol's equation in the scaled form of the IVP test set ("VDPOL"):

    .. math:: y_1' = y_2, \qquad arepsilon\, y_2' = (1 - y_1^2) y_2 - y_1,

    ``y0 = (2, -2/3 + 10ε/81 - 292ε²/2187 - 1814ε³/19683)`` (on the slow manifold, no
    initial layer) on ``[0, 2]``. It is ``x'' = μ(1 - x²)x' - x`` in the time ``t/μ``
    with ε = 1/μ²; the default ε = 1e-6 is the stiffness parameter 1/ε = 10⁶ of Hairer &
    Wanner II, Sec. IV.10 ("μ = 10⁶"), eigenvalues of the Jacobian down to about
    -10⁶. Reference: Radau at rtol = 1e-10, atol = 1e-12. Works on NumPy and torch.
    """
    eps = float(epsilon)

    def func(t, y):
        x, v = y[..., 0], y[..., 1]
        return _stack([v, ((1.0 - x * x) * v - x) / eps], y)

    def jac(t, y):
        x, v = y
        return np.array([[0.0, 1.0], [(-2.0 * x * v - 1.0) / eps, (1.0 - x * x) / eps]])

    return Problem(
        "van_der_pol_scaled",
        func,
        np.array([2.0, -2.0 / 3.0 + 10.0 * eps / 81.0 - 292.0 * eps**2 / 2187.0
                  - 1814.0 * eps**3 / 19683.0]),
        0.0,
        float(t1),
        jac=jac,
        params={"epsilon": eps, "t1": t1},
        stiff=True,
        description=van_der_pol_scaled.__doc__,
        reference_method="Radau",
        reference_rtol=1e-10,
        reference_atol=1e-12,
    )


PROBLEMS = {
    "decay": decay,
    "logistic": logistic,
    "harmonic_oscillator": harmonic_oscillator,
    "pendulum": pendulum,
    "lotka_volterra": lotka_volterra,
    "van_der_pol": van_der_pol,
    "kepler": kepler,
    "stiff_linear": stiff_linear,
    "robertson": robertson,
    "hires": hires,
    "van_der_pol_scaled": van_der_pol_scaled,
}
"""dict: problem name -> factory ``f(**params) -> Problem``."""

NON_STIFF = (
    "decay",
    "logistic",
    "harmonic_oscillator",
    "pendulum",
    "lotka_volterra",
    "van_der_pol",
    "kepler",
)


def list_problems(stiff=None):
    """Names of the test problems (``stiff=False``/``True`` to filter with defaults)."""
    if stiff is None:
        return list(PROBLEMS)
    return [name for name in PROBLEMS if (name not in NON_STIFF) == bool(stiff)]


def get_problem(name, **params):
    """Build a test problem by name, e.g. ``get_problem("van_der_pol", mu=1000)``.

    Introduced in notebook ``01_one_step_methods``.

    Parameters
    ----------
    name : str
        One of ``PROBLEMS``.
    **params
        The problem's parameters (see each factory, e.g. ``problems.kepler``).

    Returns
    -------
    Problem
    """
    if name not in PROBLEMS:
        raise ValueError(f"Unknown problem {name!r}; known: {', '.join(PROBLEMS)}.")
    try:
        return PROBLEMS[name](**params)
    except TypeError as exc:
        raise ValueError(f"Bad parameters for problem {name!r}: {exc}") from None
