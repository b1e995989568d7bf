r"""Three ways to differentiate a solve, behind one call: ``odeint_gradient(..., gradient=...)``.

==================  ========================  =======================  ==========================
``gradient=``       backward pass             memory kept              backward solve, accuracy
==================  ========================  =======================  ==========================
``"backprop"``      autograd through every    every stage of every     none; the exact gradient
                    operation of the solver   step and every           of the *computed* solution
                    (discretise, then         intermediate of          (the reference)
                    optimise)                 ``func``: steps × net
``"backsolve"``     ``(y, a, g_θ)``           the outputs ``y(t_i)``   ``2n + P`` numbers; ``y``
                    backwards, ``y``          only: flat in the        re-integrated backwards:
                    reconstructed (Chen et    number of steps          unstable for dissipative
                    al. 2018)                                          fields (ANODE)
``"interpolated"``  ``(a, g_θ)`` backwards,  ``K + 1 = 5`` states     ``n + P`` numbers; ``y``
                    ``y(t)`` from the         per accepted forward     as accurate as the
                    forward's interpolants    step: steps × state      forward solve
==================  ========================  =======================  ==========================

``seminorm=True`` (Kidger, Chen & Lyons 2021) leaves ``g_θ`` out of the backward error norm
in both adjoints. ``benchmarks/adjoint.py`` measures the three on one MLP field (memory,
forward and backward NFE); ``benchmarks/claims.py`` the published claims about them.

Introduced in ``05_adjoint_autodiff``, section "Optimise-then-discretise or
discretise-then-optimise".
"""

from __future__ import annotations

__all__ = ["odeint_gradient", "GRADIENTS"]

GRADIENTS = ("backprop", "backsolve", "interpolated")


def odeint_gradient(func, y0, t, *, gradient="backsolve", **kwargs):
    """Solve ``dy/dt = func(t, y)`` and differentiate it the chosen way.

    Parameters
    ----------
    func, y0, t, **kwargs
        As in :func:`course_utils.ode.odeint` (``"backprop"``) or
        :func:`course_utils.adjoint.odeint_adjoint` (the two adjoints, which also take
        ``adjoint_*`` settings and ``seminorm``).
    gradient : {"backprop", "backsolve", "interpolated"}
        See the table in this module's docstring.

    Returns
    -------
    What the chosen solver returns: ``ys``, or ``(ys, stats)`` with ``return_stats=True``.
    """
    if gradient == "backprop":
        from .ode import odeint

        adjoint_only = [k for k in kwargs if k.startswith("adjoint_") or k == "seminorm"]
        if adjoint_only:
            raise ValueError(
                f"`{adjoint_only[0]}` sets the backward solve of an adjoint; "
                "gradient='backprop' has none: drop it or choose gradient='backsolve' or "
                "'interpolated'."
            )
        return odeint(func, y0, t, **kwargs)
    if gradient == "backsolve":
        from .adjoint import odeint_adjoint

        return odeint_adjoint(func, y0, t, **kwargs)
    if gradient == "interpolated":
        from .adjoint_checkpoint import odeint_interpolated_adjoint

        return odeint_interpolated_adjoint(func, y0, t, **kwargs)
    raise ValueError(f"`gradient` must be one of {', '.join(map(repr, GRADIENTS))}, "
                     f"got {gradient!r}.")
