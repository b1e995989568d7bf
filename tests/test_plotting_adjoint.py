"""The week-5 graph drawing: layers run left to right and edges do not cross."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from course_utils import autodiff as ad  # noqa: E402
from course_utils.autodiff import Value  # noqa: E402
from course_utils.plotting.adjoint import (  # noqa: E402
    GraphLayout,
    draw_graph,
    edge_crossings,
    graph_layout,
)


def notebook_graph():
    """f = x1·x2 + sin(x1)·exp(−x2), the graph of 05_adjoint_autodiff §1.1."""
    x1, x2 = Value(1.5), Value(0.5)
    return x1, x2, x1 * x2 + ad.sin(x1) * ad.exp(-x2)


def neuron_graph():
    """A bigger graph: the squared error of a tanh neuron over four points."""
    w1, w2, b = Value(0.3), Value(-0.6), Value(0.1)
    total = 0.0
    for (u1, u2), target in zip([(0.5, -1.0), (1.5, 0.3), (-0.7, 2.0), (0.2, 0.9)],
                                [0.2, 0.8, -0.5, 0.4]):
        total = total + (ad.tanh(w1 * u1 + w2 * u2 + b) - target) ** 2
    return total


def assert_left_to_right(layout):
    for parent, child, points in layout.edges:
        xs = [x for x, _ in points]
        assert xs[0] == layout.position[id(parent)][0] and xs[-1] == layout.position[id(child)][0]
        assert all(b == a + 1 for a, b in zip(xs, xs[1:])), "one bend point per layer"


def test_the_notebook_graph_is_drawn_without_crossings():
    _, _, f = notebook_graph()
    layout = graph_layout(f)
    assert_left_to_right(layout)
    assert edge_crossings(layout) == 0
    assert len(layout.edges) == sum(len(node._parents) for node in layout.nodes)


def test_edge_crossings_sees_a_crossing():
    # the same graph with the two inputs swapped: the count must notice
    _, _, f = notebook_graph()
    layout = graph_layout(f)
    inputs = [node for node in layout.nodes if not node._parents and node.op != "const"]
    swapped = dict(layout.position)
    a, b = (id(node) for node in inputs)
    swapped[a], swapped[b] = layout.position[b], layout.position[a]
    edges = []
    for parent, child, points in layout.edges:
        points = list(points)
        points[0] = swapped[id(parent)]
        edges.append((parent, child, points))
    assert edge_crossings(GraphLayout(layout.nodes, swapped, edges)) > 0


def test_a_larger_graph_is_laid_out_left_to_right():
    root = neuron_graph()
    layout = graph_layout(root)
    assert_left_to_right(layout)
    assert len(layout.position) == len(layout.nodes) > 40


def test_draw_graph_labels_its_axes():
    x1, x2, f = notebook_graph()
    f.backward()
    ax = draw_graph(f, names={x1: "x1", x2: "x2", f: "f"}, title="graph")
    assert ax.get_title() == "graph" and ax.get_xlabel()
    texts = [text.get_text() for text in ax.texts if text.get_bbox_patch() is not None]
    assert any(text.startswith("x1\n") for text in texts) and len(texts) == 9  # one box per node
    plt.close(ax.figure)
