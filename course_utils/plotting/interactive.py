"""One interactive figure per week that degrades to a static one (weeks 1 and 2).

A saved notebook, the course site and nbval cannot run a slider, so the figure is always
drawn statically first, at the default value; where ipywidgets is available a slider
below it redraws the figure live in JupyterLab or Colab.

**Headless runs draw only the static figure.** With the environment variable
``COURSE_NO_WIDGETS=1`` in the kernel's environment no widget is created at all, so an
execution without a front end (``make solutions`` — ``tools/execute.py`` —, the Makefile's
nbval run, the test suite's kernels, the Colab-bundle test) never creates widget comms
that nothing answers. ``make lab`` does not set it; set it yourself
(``COURSE_NO_WIDGETS=1 jupyter lab``) to turn the sliders off. Values ``1``, ``true``,
``yes`` and ``on`` (any case) turn widgets off; unset, empty or ``0`` leave them on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._setup import env_flag

__all__ = ["slider_figure", "widgets_enabled"]

#: The environment variable that turns the live sliders off (headless execution).
NO_WIDGETS_ENV = "COURSE_NO_WIDGETS"


def widgets_enabled() -> bool:
    """Whether :func:`slider_figure` may create widgets: ``COURSE_NO_WIDGETS`` is not set."""
    return not env_flag(NO_WIDGETS_ENV)


def _widgets():
    if not widgets_enabled():
        return None
    try:
        import ipywidgets
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return None  # plain Python or a terminal IPython: no widget front end
    return ipywidgets


def slider_figure(draw: Callable, name: str, values: Sequence, value) -> bool:
    """Draw ``draw(value)`` now, then offer a slider over ``values`` that redraws it.

    Parameters
    ----------
    draw : callable
        ``draw(v)`` makes one complete matplotlib figure for the parameter value ``v``.
    name : str
        Label of the slider (e.g. ``"h"`` or ``"θ"``).
    values : sequence
        The values the slider offers, in order.
    value
        The default, drawn statically; must be one of ``values``.

    Returns
    -------
    bool
        ``True`` if a live slider was shown, ``False`` if only the static figure: outside
        a Jupyter kernel, without ipywidgets, or when ``COURSE_NO_WIDGETS=1`` is set
        (headless execution; see the module docstring).
    """
    import matplotlib.pyplot as plt

    values = list(values)
    if value not in values:
        raise ValueError(f"`value` {value!r} is not one of `values` {values}")
    draw(value)
    plt.show()
    widgets = _widgets()
    if widgets is None:
        return False
    from IPython.display import display

    slider = widgets.SelectionSlider(options=values, value=value, description=name,
                                     continuous_update=False)

    def redraw(**kwargs):
        draw(kwargs[name])
        plt.show()

    output = widgets.interactive_output(redraw, {name: slider})
    display(widgets.HTML("<b>Interactive version</b> (move the slider; the figure above "
                         "is the static default):"), slider, output)
    return True
