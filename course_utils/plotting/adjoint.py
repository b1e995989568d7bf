"""Figures of week 5: computational graphs of the reverse-mode engine (``05_adjoint_autodiff``).

:func:`graph_layout` places the nodes of a :class:`~course_utils.autodiff.Value` graph in
layers (each node right of its arguments) and orders every layer so that no two edges
cross whenever that is possible for the layerings it tries; :func:`draw_graph` draws
that layout. The method is the layered drawing of Sugiyama, Tagawa & Toda, "Methods for
Visual Understanding of Hierarchical System Structures" (IEEE SMC, 1981): assign layers,
route long edges through dummy points, then order the layers to minimise crossings —
here exhaustively when the graph is small, by barycentre sweeps otherwise.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from .base import COLORS

__all__ = ["GraphLayout", "graph_layout", "edge_crossings", "draw_graph"]

_EXHAUSTIVE_LIMIT = 5_000  # orderings of one layering tried exhaustively, at most
_LAYERINGS_LIMIT = 1_000  # leaf placements tried, at most


@dataclass
class GraphLayout:
    """Where :func:`draw_graph` puts a graph.

    Attributes
    ----------
    nodes : list of Value
        Every node below the root, each after its parents.
    position : dict
        ``id(node) -> (x, y)``; ``x`` is the node's layer.
    edges : list of (Value, Value, list of (x, y))
        ``(parent, child, points)``: the polyline from the parent to the child, through
        one bend point per layer that the edge jumps over.
    """

    nodes: list
    position: dict
    edges: list

    @property
    def num_layers(self) -> int:
        """Number of layers (columns) of the drawing."""
        return 1 + max(int(x) for x, _ in self.position.values())


def _layerings(order):
    """Candidate layer assignments: non-leaf nodes one layer right of their deepest parent.

    Leaves (inputs, constants) may start later than layer 0; after the longest-path
    assignment each leaf is moved next to its first user, so no edge out of a leaf is
    longer than needed. Returns distinct dicts ``id(node) -> layer``.
    """
    leaves = [node for node in order if not node._parents]
    users = {id(node): [] for node in order}
    for node in order:
        for parent in node._parents:
            users[id(parent)].append(node)
    depth = {}
    for node in order:
        depth[id(node)] = 1 + max(depth[id(p)] for p in node._parents) if node._parents else 0
    max_offset = max(depth.values())
    choices = range(max_offset + 1)
    if (max_offset + 1) ** len(leaves) > _LAYERINGS_LIMIT:
        combos = [tuple(0 for _ in leaves)]
    else:
        combos = itertools.product(choices, repeat=len(leaves))
    seen, result = set(), []
    for offsets in combos:
        layer = {id(leaf): offset for leaf, offset in zip(leaves, offsets)}
        for node in order:
            if node._parents:
                layer[id(node)] = 1 + max(layer[id(p)] for p in node._parents)
        for leaf in leaves:
            if users[id(leaf)]:
                layer[id(leaf)] = min(layer[id(u)] for u in users[id(leaf)]) - 1
        shift = min(layer.values())
        layer = {key: value - shift for key, value in layer.items()}
        key = tuple(layer[id(node)] for node in order)
        if key not in seen:
            seen.add(key)
            result.append(layer)
    return result


def _layered_graph(order, layer):
    """Split long edges with dummy points; return ``(layers, links, chains)``.

    ``layers[k]`` lists the keys (``id(node)`` or ``("dummy", edge, step)``) of layer k;
    ``links[k]`` the pairs ``(key in layer k, key in layer k + 1)``; ``chains`` maps each
    edge ``(parent, child)`` to the keys it passes through.
    """
    num_layers = 1 + max(layer.values())
    layers = [[] for _ in range(num_layers)]
    links = [[] for _ in range(num_layers - 1)]
    chains = []
    for node in order:
        layers[layer[id(node)]].append(id(node))
    for node in order:
        for index, parent in enumerate(node._parents):
            start, end = layer[id(parent)], layer[id(node)]
            keys = [id(parent)]
            for step in range(start + 1, end):
                dummy = ("dummy", id(node), index, step)
                layers[step].append(dummy)
                keys.append(dummy)
            keys.append(id(node))
            for k, (u, v) in enumerate(zip(keys, keys[1:])):
                links[start + k].append((u, v))
            chains.append((parent, node, keys))
    return layers, links, chains


def _crossings(layers, links):
    """Crossings of straight segments between adjacent layers, for the given orders."""
    total = 0
    for k, pairs in enumerate(links):
        upper = {key: i for i, key in enumerate(layers[k])}
        lower = {key: i for i, key in enumerate(layers[k + 1])}
        ends = [(upper[u], lower[v]) for u, v in pairs]
        for (a0, a1), (b0, b1) in itertools.combinations(ends, 2):
            if (a0 - b0) * (a1 - b1) < 0:
                total += 1
    return total


def _order_exhaustively(layers, links):
    best = None
    for orders in itertools.product(*(itertools.permutations(layer) for layer in layers)):
        candidate = [list(order) for order in orders]
        count = _crossings(candidate, links)
        if best is None or count < best[0]:
            best = (count, candidate)
            if count == 0:
                break
    return best


def _order_by_barycentre(layers, links, sweeps=8):
    layers = [list(layer) for layer in layers]
    best = (_crossings(layers, links), [list(layer) for layer in layers])
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        for k in range(1, len(layers)) if down else range(len(layers) - 2, -1, -1):
            fixed = {key: i for i, key in enumerate(layers[k - 1 if down else k + 1])}
            pairs = links[k - 1] if down else links[k]
            neighbours = {key: [] for key in layers[k]}
            for u, v in pairs:
                if down:
                    neighbours[v].append(fixed[u])
                else:
                    neighbours[u].append(fixed[v])
            current = {key: i for i, key in enumerate(layers[k])}
            layers[k].sort(key=lambda key: (sum(neighbours[key]) / len(neighbours[key])
                                            if neighbours[key] else current[key]))
        count = _crossings(layers, links)
        if count < best[0]:
            best = (count, [list(layer) for layer in layers])
    return best


def graph_layout(root) -> GraphLayout:
    """Lay out the graph below ``root`` in layers, with as few crossing edges as found.

    Parameters
    ----------
    root : Value
        The output node.

    Returns
    -------
    GraphLayout
        Node positions (layer, height) and the polyline of every edge.

    Notes
    -----
    The layerings of :func:`_layerings` are tried from the shortest total edge length
    up; each is ordered by barycentre sweeps and, if edges still cross, exhaustively when
    it has at most 5,000 orderings. The first layout without crossings wins; if there is
    none, the one with the fewest crossings, then the shortest edges. Introduced in
    ``05_adjoint_autodiff``, section 1.
    """
    from ..autodiff import topological_order

    order = topological_order(root)
    candidates = []
    for layer in _layerings(order):
        layers, links, chains = _layered_graph(order, layer)
        span = sum(len(keys) - 1 for _, _, keys in chains)
        candidates.append((span, len(layers), layers, links, chains))
    candidates.sort(key=lambda candidate: candidate[:2])  # shortest edges first
    best = None
    for span, num_layers, layers, links, chains in candidates:
        crossings, ordered = _order_by_barycentre(layers, links)
        size = math.prod(math.factorial(len(keys)) for keys in layers)
        if crossings and size <= _EXHAUSTIVE_LIMIT:
            crossings, ordered = _order_exhaustively(layers, links)
        score = (crossings, span, num_layers)
        if best is None or score < best[0]:
            best = (score, ordered, chains)
        if crossings == 0:
            break  # no crossing, and no candidate left has shorter edges
    _, ordered, chains = best
    point = {}
    for x, keys in enumerate(ordered):
        for row, key in enumerate(keys):
            point[key] = (float(x), (len(keys) - 1) / 2.0 - row)
    position = {id(node): point[id(node)] for node in order}
    edges = [(parent, child, [point[key] for key in keys]) for parent, child, keys in chains]
    return GraphLayout(nodes=order, position=position, edges=edges)


def _segments_cross(p, q, r, s) -> bool:
    """Whether segments pq and rs cross at a point inside both (shared ends do not count)."""

    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    if len({p, q, r, s}) < 4:
        return False
    d1, d2, d3, d4 = side(r, s, p), side(r, s, q), side(p, q, r), side(p, q, s)
    return d1 * d2 < 0 and d3 * d4 < 0


def edge_crossings(layout: GraphLayout) -> int:
    """Number of pairs of edges of a layout whose drawn polylines cross (geometry only).

    Independent of how :func:`graph_layout` counted: every pair of polyline segments is
    intersected in the plane.
    """
    segments = [[(a, b) for a, b in zip(points, points[1:])] for _, _, points in layout.edges]
    count = 0
    for first, second in itertools.combinations(segments, 2):
        if any(_segments_cross(p, q, r, s) for p, q in first for r, s in second):
            count += 1
    return count


def draw_graph(root, ax=None, names=None, title="Computational graph", show_grad=True):
    """Draw the graph below a :class:`~course_utils.autodiff.Value`, left (inputs) to right.

    Each node shows its operation, its value and, after ``root.backward()``, its
    adjoint ``∂root/∂node`` (``grad``). Inputs are blue, constants grey, operations
    orange, the root green. The layout is :func:`graph_layout`: each node one layer right
    of its deepest argument, inputs and constants next to their first use, and edges that
    do not cross whenever such an ordering of the layers exists.

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

    layout = graph_layout(root)
    labels = {id(node): text for node, text in (names or {}).items()}
    heights = [y for _, y in layout.position.values()]
    if ax is None:
        width = max(4.0, 1.6 * (layout.num_layers + 1))
        height = max(2.5, 1.1 * (max(heights) - min(heights) + 1) + 1)
        _, ax = plt.subplots(figsize=(width, height))
    for _, _, points in layout.edges:
        for k, (start, end) in enumerate(zip(points, points[1:])):
            last = k == len(points) - 2
            ax.annotate("", xy=end, xytext=start,
                        arrowprops=dict(arrowstyle="->" if last else "-", color="0.5", lw=1.0,
                                        shrinkA=16 if k == 0 else 0,
                                        shrinkB=16 if last else 0))
    for node in layout.nodes:
        x, y = layout.position[id(node)]
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
    ax.set_xlim(-0.6, layout.num_layers - 0.4)
    ax.set_ylim(min(heights) - 0.7, max(heights) + 0.7)
    ax.set_title(title)
    ax.set_xlabel("layer: each node is right of its arguments")
    ax.set_yticks([])
    ax.set_xticks(range(layout.num_layers))
    ax.grid(False)
    for side in ("left", "top", "right"):
        ax.spines[side].set_visible(False)
    return ax
