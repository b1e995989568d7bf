"""The one integration loop: any step, any controller, output times from the interpolant.

::

    f = f(t0, y0)                                    (checks func's output once)
    controller.start(t0, y0, f)
    while output times remain:
        h, t_new = controller.propose(t)             (the last step lands on t[-1])
        result   = step.step(t, h, t_new, y, f)
        if not controller.judge(result, y, h):       (rejected: try again, smaller)
            continue
        serve every output time in (t, t_new] from step.interpolate(...)
        t, y, f = t_new, result.y_new, result.f_new

Output times never shorten a step (dense output serves them), so a fine ``t`` costs no
extra steps. For a fixed grid, an output time within ``controller.snap`` steps of the end
of a step *is* that grid point and gets the step's value itself.
"""

import math

from ._backend import raise_non_finite
from ._controllers import STIFF_ADVICE
from ._errors import ODESolverError

__all__ = ["integrate"]


def integrate(step, controller, y0, times, *, backend, evaluator, stats, max_steps,
              detector=None, callbacks=None, events=None, perturb=False):
    """Integrate from ``times[0]`` through ``times[-1]``; return the outputs, stacked.

    Parameters
    ----------
    step : a step object of ``_steps`` (``step`` and ``interpolate``)
    controller : ``ConstantStep`` or ``PIController``
    y0 : state at ``times[0]``
    times : list of float, strictly monotonic, at least two
    backend, evaluator, stats : the solve's backend, counted ``func`` and statistics
    max_steps : int
        Steps (accepted plus rejected) before giving up.
    detector : StiffnessDetector, optional
        Reads the step's ``h·|λ|`` estimates (explicit pairs only).
    callbacks : ``_compat.Callbacks``, optional
        ``func``'s ``callback_step`` / ``callback_accept_step`` / ``callback_reject_step``.
    events : ``_events.EventDetector``, optional
        Looks for zeros of the event functions in every accepted step (on the step's
        interpolant); a terminal one ends the solve there (its state is the last output).
    perturb : bool
        Evaluate ``func`` just after the start and just before the end of every step
        (torchdiffeq's ``perturb``). A step ending on a ``jump_t`` does the latter too,
        and the next step re-evaluates ``func`` just after the jump.

    Returns
    -------
    state stacked over the output times, shape ``(len(times), *y0.shape)``
    """
    t0, t_end = times[0], times[-1]
    direction = 1.0 if t_end > t0 else -1.0
    num_outputs = len(times)
    f = backend.first_call(evaluator, t0, y0)
    if backend.check_every_step and not backend.all_finite(f):
        raise_non_finite(t0, stats=stats)
    controller.start(t0, y0, f)
    outputs = [y0]
    next_output = 1
    t, y = t0, y0
    num_steps = 0
    step_sizes, step_times = stats.step_sizes, stats.step_times
    # a controller that rejects non-finite steps needs no test of each state
    check_every_step = backend.check_every_step and not controller.rejects_non_finite
    while next_output < num_outputs:
        if num_steps >= max_steps:
            _raise_max_steps(max_steps, t, t_end, detector, stats)
        h, t_new = controller.propose(t)
        if detector is not None:
            step.check_stiffness = detector.wants_reading(len(step_sizes))
        t_stage_end = t_new
        if perturb or controller.on_jump:  # stages at the end see func from the left
            t_stage_end = math.nextafter(t_new, t)
            if perturb:
                f = evaluator(math.nextafter(t, t_new), y)
        if callbacks is not None:
            callbacks.step(t, y, h)
        result = step.step(t, h, t_stage_end, y, f)
        num_steps += 1
        if not controller.judge(result, y, h):
            stats.num_rejected += 1
            if callbacks is not None:
                callbacks.reject(t, y, h)
            f = result.f  # f(t, y) is still good for the retry
            continue
        step_sizes.append(h)
        step_times.append(t)
        stats.num_accepted += 1
        if callbacks is not None:
            callbacks.accept(t, y, h)
        y_new = result.y_new
        if check_every_step and not backend.all_finite(y_new):
            raise_non_finite(t_new, stats=stats)
        t_last = t_new  # outputs are served up to here (an event may end the step early)
        if events is not None:
            result = _complete(step, result, evaluator, t, y, t_new)
            hit = events.check(t, t_new, y_new,
                               lambda theta, r=result, t=t, h=h, y=y: step.interpolate(
                                   t, h, y, r, theta))
            if hit is not None:
                t_last, y_event = hit
        snap = controller.snap * abs(h)
        while next_output < num_outputs:
            t_out = times[next_output]
            if direction * (t_out - t_last) > snap or (
                t_last != t_new and direction * (t_out - t_last) >= 0
            ):
                break
            if t_out == t_new or abs(t_out - t_new) <= snap:
                outputs.append(y_new)
            else:
                result = _complete(step, result, evaluator, t, y, t_new)
                outputs.append(step.interpolate(t, h, y, result, (t_out - t) / h))
            next_output += 1
        if t_last != t_new:  # a terminal event: its state is the last output
            outputs.append(y_event)
            break
        if detector is not None and result.stiffness is not None:
            detector.update(result.stiffness, t_new)
        if controller.on_jump:  # func is discontinuous here: no FSAL across
            t, y = t_new, y_new
            f = evaluator(math.nextafter(t_new, t_new + h), y_new)
            continue
        t, y, f = t_new, y_new, result.f_new
    ys = backend.stack(outputs)
    if not check_every_step and not backend.all_finite(ys):
        for i in range(1, len(outputs)):  # (with an event the last output is its state)
            if not backend.all_finite(outputs[i]):
                raise_non_finite(times[i - 1], times[i], stats=stats)
    return ys


def _complete(step, result, evaluator, t, y, t_new):
    """The step's result with ``f`` at both ends, if its interpolant needs them."""
    if step.needs_end_derivative:  # the Hermite interpolant needs f at both ends
        if result.f is None:
            result = result._replace(f=evaluator(t, y))
        if result.f_new is None:
            result = result._replace(f_new=evaluator(t_new, result.y_new))
    return result


def _raise_max_steps(max_steps, t, t_end, detector, stats):
    stiff = detector is not None and detector.ever_high
    advice = (
        f"The problem seems stiff here (steps limited by stability): {STIFF_ADVICE}, "
        "or increase `max_steps`."
        if stiff
        else "Increase `max_steps` (the solve was progressing), or split the interval."
    )
    raise ODESolverError(
        f"Reached `max_steps`={max_steps} at t={t:.12g} before t={t_end:g}. {advice}",
        t=float(t),
        stats=stats,
    )
