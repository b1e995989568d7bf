"""Figures of week 5: computational graphs of the reverse-mode engine (``05_adjoint_autodiff``)."""

from __future__ import annotations

from .base import COLORS

__all__ = ["draw_graph"]


def _levels(order):
    """Depth of every node: 0 for leaves, 1 + the deepest parent otherwise."""
    level = {}
    for node in order:  # parents come first in a topological order
        parents = node._parents
        level[id(node)] = 1 + max(level[id(p)] for p in parents) if parents else 0
    return level


def draw_graph(root, ax=None, names=None, title="Computational graph", show_grad=True):
    """Draw the graph below a :class:`~course_utils.autodiff.Value`, left (inputs) to right.

    Each node shows its operation, its value and, after ``root.backward()``, its
    adjoint ``∂root/∂node`` (``grad``). Inputs are blue, constants grey, operations
    orange, the root green.

    Parameters
    ----------
    root : Value
        The output node.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    names : dict, optional
        ``{node: "x1", ...}`` labels for chosen nodes (e.g. the inputs).
    title : str
        Axes title.
    show_grad : bool
        Print ``grad`` under each node's value.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Introduced in ``05_adjoint_autodiff``, section 1.
    """
    import matplotlib.pyplot as plt

    from ..autodiff import topological_order

    order = topological_order(root)
    level = _levels(order)
    labels = {id(node): text for node, text in (names or {}).items()}
    columns: dict[int, list] = {}
    for node in order:
        columns.setdefault(level[id(node)], []).append(node)
    position = {}
    for depth, nodes in columns.items():
        for row, node in enumerate(nodes):
            position[id(node)] = (depth, (len(nodes) - 1) / 2.0 - row)
    if ax is None:
        width = max(4.0, 1.6 * (len(columns) + 1))
        height = max(2.5, 1.1 * max(len(nodes) for nodes in columns.values()) + 1)
        _, ax = plt.subplots(figsize=(width, height))
    for node in order:
        x1, y1 = position[id(node)]
        for parent in node._parents:
            x0, y0 = position[id(parent)]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="0.5", lw=1.0,
                                        shrinkA=16, shrinkB=16))
    for node in order:
        x, y = position[id(node)]
        if node is root:
            color = COLORS[2]
        elif not node._parents:
            color = "0.6" if node.op == "const" else COLORS[0]
        else:
            color = COLORS[1]
        head = labels.get(id(node), node.op if node.op not in ("", "input") else "input")
        text = f"{head}\n{node.data:.3g}"
        if show_grad and node.op != "const":
            text += f"\n∂={node.grad:.3g}"
        ax.text(x, y, text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.35", fc="white", ec=color, lw=1.6))
    ax.set_xlim(-0.6, max(columns) + 0.6)
    heights = [abs(p[1]) for p in position.values()]
    ax.set_ylim(-max(heights) - 0.7, max(heights) + 0.7)
    ax.set_title(title)
    ax.set_xlabel("depth in the graph (inputs on the left)")
    ax.set_yticks([])
    ax.set_xticks(range(max(columns) + 1))
    ax.grid(False)
    for side in ("left", "top", "right"):
        ax.spines[side].set_visible(False)
    return ax
