"""Automatic differentiation from scratch: a reverse-mode engine and dual numbers (week 5).

Two tiny engines, written to be read (``05_adjoint_autodiff``, section 1):

* :class:`Value` — **reverse mode**. Every arithmetic operation on ``Value`` objects
  records its inputs (the *parents*) and a closure that knows the operation's local
  derivatives. :meth:`Value.backward` sorts the recorded graph topologically and
  sweeps it in reverse, each closure adding ``local derivative * out.grad`` to its
  parents' ``grad`` (the chain rule, applied once per edge). One sweep gives the
  derivative of one output with respect to *every* input.
* :class:`Dual` — **forward mode**. A dual number ``a + b ε`` with ``ε² = 0`` carries a
  value and a tangent; arithmetic on duals propagates the tangent alongside the value,
  so one evaluation gives the derivative of *every* output along one input direction.

The elementary functions :func:`exp`, :func:`log`, :func:`sin`, :func:`cos`,
:func:`tanh` and :func:`sqrt` accept floats, ``Value`` and ``Dual`` alike, so one
Python function can be evaluated plainly, in reverse mode and in forward mode.
:func:`jacobian_forward` and :func:`jacobian_reverse` build whole Jacobians (one pass
per input, resp. per output) and :func:`count_operations` counts the elementary
operations they execute (section 2 of the notebook: the cost of each mode).

References
----------
A. G. Baydin, B. A. Pearlmutter, A. A. Radul, J. M. Siskind, "Automatic
Differentiation in Machine Learning: a Survey", JMLR 18 (2018), sections 2-3.
A. Karpathy, *micrograd* (the design of :class:`Value`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Value",
    "Dual",
    "exp",
    "log",
    "sin",
    "cos",
    "tanh",
    "sqrt",
    "topological_order",
    "gradient",
    "jvp",
    "jacobian_forward",
    "jacobian_reverse",
    "OperationCount",
    "count_operations",
]


# ----------------------------------------------------------------------------- counting
@dataclass
class OperationCount:
    """Elementary operations executed inside :func:`count_operations`.

    Attributes
    ----------
    forward : int
        Primitive operations evaluated (one per ``Value`` or ``Dual`` operation; a dual
        operation computes the value *and* the tangent).
    backward : int
        Local-gradient closures run by :meth:`Value.backward` (one per non-leaf node
        and backward sweep).
    """

    forward: int = 0
    backward: int = 0

    @property
    def total(self) -> int:
        """``forward + backward``."""
        return self.forward + self.backward


_counter: OperationCount | None = None


@contextlib.contextmanager
def count_operations() -> Iterator[OperationCount]:
    """Count the elementary operations of both engines inside a ``with`` block.

    Examples
    --------
    >>> with count_operations() as ops:
    ...     jac = jacobian_forward(lambda x: x[0] * x[1], [2.0, 3.0])
    >>> ops.forward   # two passes of one multiplication
    2
    """
    global _counter
    previous, _counter = _counter, OperationCount()
    try:
        yield _counter
    finally:
        _counter = previous


def _tick() -> None:
    if _counter is not None:
        _counter.forward += 1


def _no_backward() -> None:
    """The local-gradient closure of a leaf (an input or a constant): nothing to do."""


# ----------------------------------------------------------------------------- reverse mode
class Value:
    """A scalar node of a computational graph, for reverse-mode differentiation.

    Parameters
    ----------
    data : float
        The value.
    parents : tuple of Value
        The nodes this one was computed from (empty for an input or a constant).
    op : str
        A label of the operation that produced it (for printing and teaching).

    Attributes
    ----------
    data : float
        The value.
    grad : float
        ``∂(root)/∂(this node)`` after ``root.backward()``; 0 before.
    _backward : callable
        The closure that adds this node's contribution to its parents' ``grad``
        (``parent.grad += ∂self/∂parent * self.grad``); set by the operation that
        created the node.

    Notes
    -----
    Introduced in ``05_adjoint_autodiff``, section 1. Unlike torch, :meth:`backward`
    resets the ``grad`` of every node of the graph before its sweep, so calling it on
    several outputs of one graph gives each output's gradient in turn (that is how
    :func:`jacobian_reverse` works).
    """

    __slots__ = ("data", "grad", "_parents", "_backward", "op")

    def __init__(self, data: float, parents: tuple = (), op: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self._parents = tuple(parents)
        self._backward: Callable[[], None] = _no_backward
        self.op = op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # -- the primitive operations: value, parents, and the local-gradient closure
    def __add__(self, other) -> Value:
        other = _as_value(other)
        _tick()
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        other = _as_value(other)
        _tick()
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent) -> Value:
        if isinstance(exponent, (Value, Dual)):
            return exp(exponent * log(self))
        exponent = float(exponent)
        _tick()
        out = Value(self.data**exponent, (self,), f"**{exponent:g}")

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1.0) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        _tick()
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0.0:
            raise ValueError(f"log of a non-positive Value ({self.data:g})")
        _tick()
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def sin(self) -> Value:
        _tick()
        out = Value(math.sin(self.data), (self,), "sin")

        def _backward():
            self.grad += math.cos(self.data) * out.grad

        out._backward = _backward
        return out

    def cos(self) -> Value:
        _tick()
        out = Value(math.cos(self.data), (self,), "cos")

        def _backward():
            self.grad -= math.sin(self.data) * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        _tick()
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sqrt(self) -> Value:
        return self**0.5

    # -- derived operations (built from the primitives above)
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other) -> Value:
        return self + (-_as_value(other))

    def __truediv__(self, other) -> Value:
        return self * _as_value(other) ** -1.0

    def __radd__(self, other) -> Value:
        return _as_value(other) + self

    def __rmul__(self, other) -> Value:
        return _as_value(other) * self

    def __rsub__(self, other) -> Value:
        return _as_value(other) - self

    def __rtruediv__(self, other) -> Value:
        return _as_value(other) / self

    def __rpow__(self, base) -> Value:
        return exp(self * math.log(float(base)))

    # -- the reverse sweep
    def backward(self) -> None:
        """Set ``node.grad = ∂self/∂node`` for every node of the graph below ``self``.

        A topological sort (:func:`topological_order`) puts every node after its
        parents; the sweep runs in reverse, so a node's ``grad`` is complete (all its
        children have contributed) before its closure passes it on to its parents.
        Cost: one closure call per node — a small constant times the forward pass.
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            if node._parents and _counter is not None:
                _counter.backward += 1
            node._backward()


def _as_value(x) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, Dual):
        raise TypeError("cannot mix `Value` (reverse mode) and `Dual` (forward mode)")
    return Value(x, (), "const")


def topological_order(root: Value) -> list[Value]:
    """Every node of the graph below ``root``, each after all of its parents.

    An iterative depth-first search (no recursion limit on long chains).

    Parameters
    ----------
    root : Value
        The output node.

    Returns
    -------
    list of Value
        Inputs first, ``root`` last; each node appears once.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


# ----------------------------------------------------------------------------- forward mode
class Dual:
    """A dual number ``value + tangent·ε`` with ``ε² = 0``, for forward-mode derivatives.

    Evaluating ``f`` on ``Dual(x, v)`` gives ``Dual(f(x), f'(x) v)``: Taylor's theorem
    truncated after the linear term, exactly. Several inputs seeded with tangents
    ``v_i`` give the directional derivative ``J v`` of every output in one pass.

    Parameters
    ----------
    value : float
        The primal value.
    tangent : float
        The derivative carried along (the seed for an input).

    Notes
    -----
    Introduced in ``05_adjoint_autodiff``, section 1.
    """

    __slots__ = ("value", "tangent")

    def __init__(self, value: float, tangent: float = 0.0) -> None:
        self.value = float(value)
        self.tangent = float(tangent)

    def __repr__(self) -> str:
        return f"Dual(value={self.value:.6g}, tangent={self.tangent:.6g})"

    def __add__(self, other) -> Dual:
        other = _as_dual(other)
        _tick()
        return Dual(self.value + other.value, self.tangent + other.tangent)

    def __mul__(self, other) -> Dual:
        other = _as_dual(other)
        _tick()
        return Dual(self.value * other.value,
                    self.tangent * other.value + self.value * other.tangent)

    def __truediv__(self, other) -> Dual:
        other = _as_dual(other)
        _tick()
        quotient = self.value / other.value
        return Dual(quotient, (self.tangent - quotient * other.tangent) / other.value)

    def __pow__(self, exponent) -> Dual:
        if isinstance(exponent, (Value, Dual)):
            return exp(exponent * log(self))
        exponent = float(exponent)
        _tick()
        return Dual(self.value**exponent,
                    exponent * self.value ** (exponent - 1.0) * self.tangent)

    def exp(self) -> Dual:
        _tick()
        value = math.exp(self.value)
        return Dual(value, value * self.tangent)

    def log(self) -> Dual:
        if self.value <= 0.0:
            raise ValueError(f"log of a non-positive Dual ({self.value:g})")
        _tick()
        return Dual(math.log(self.value), self.tangent / self.value)

    def sin(self) -> Dual:
        _tick()
        return Dual(math.sin(self.value), math.cos(self.value) * self.tangent)

    def cos(self) -> Dual:
        _tick()
        return Dual(math.cos(self.value), -math.sin(self.value) * self.tangent)

    def tanh(self) -> Dual:
        _tick()
        value = math.tanh(self.value)
        return Dual(value, (1.0 - value * value) * self.tangent)

    def sqrt(self) -> Dual:
        return self**0.5

    def __neg__(self) -> Dual:
        return self * -1.0

    def __sub__(self, other) -> Dual:
        return self + (-_as_dual(other))

    def __radd__(self, other) -> Dual:
        return _as_dual(other) + self

    def __rmul__(self, other) -> Dual:
        return _as_dual(other) * self

    def __rsub__(self, other) -> Dual:
        return _as_dual(other) - self

    def __rtruediv__(self, other) -> Dual:
        return _as_dual(other) / self

    def __rpow__(self, base) -> Dual:
        return exp(self * math.log(float(base)))


def _as_dual(x) -> Dual:
    if isinstance(x, Dual):
        return x
    if isinstance(x, Value):
        raise TypeError("cannot mix `Dual` (forward mode) and `Value` (reverse mode)")
    return Dual(x, 0.0)


# ----------------------------------------------------------------------------- functions
def _elementary(name: str, plain: Callable) -> Callable:
    def function(x):
        if isinstance(x, (Value, Dual)):
            return getattr(x, name)()
        if isinstance(x, (int, float)):
            return plain(x)
        return getattr(np, name)(x)

    function.__name__ = name
    function.__doc__ = (
        f"``{name}(x)`` for a float, a NumPy array, a :class:`Value` (recording the "
        f"operation) or a :class:`Dual` (propagating the tangent)."
    )
    return function


exp = _elementary("exp", math.exp)
log = _elementary("log", math.log)
sin = _elementary("sin", math.sin)
cos = _elementary("cos", math.cos)
tanh = _elementary("tanh", math.tanh)
sqrt = _elementary("sqrt", math.sqrt)


# ----------------------------------------------------------------------------- drivers
def _point(x) -> list[float]:
    values = np.asarray(x, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"`x` must be a 1-D sequence of numbers, got shape {values.shape}")
    return [float(v) for v in values]


def _outputs(result, kind) -> tuple[list, bool]:
    """The outputs of ``f`` as a list, and whether ``f`` returned a single scalar."""
    if isinstance(result, (Value, Dual)):
        return [result], True
    if isinstance(result, (list, tuple)):
        return [out if isinstance(out, kind) else kind(out) for out in result], False
    raise ValueError(
        f"`f` must return a {kind.__name__} or a list of them, got {type(result).__name__}; "
        "build the result only from the inputs, numbers and course_utils.autodiff functions"
    )


def gradient(f: Callable, x: Sequence[float]) -> tuple[float, np.ndarray]:
    """Value and gradient of a scalar function by one reverse sweep.

    Parameters
    ----------
    f : callable
        ``f(xs) -> Value`` with ``xs`` a list of ``n`` :class:`Value` inputs.
    x : sequence of float, shape (n,)
        The point.

    Returns
    -------
    value : float
    grad : ndarray, shape (n,)
    """
    inputs = [Value(v, (), "input") for v in _point(x)]
    (output,), _ = _outputs(f(inputs), Value)
    output.backward()
    return output.data, np.array([node.grad for node in inputs])


def jvp(f: Callable, x: Sequence[float], v: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``f(x)`` and the Jacobian-vector product ``J(x) v`` by one forward pass.

    Parameters
    ----------
    f : callable
        ``f(xs) -> Dual or list of Dual`` with ``xs`` a list of ``n`` inputs.
    x, v : sequence of float, shape (n,)
        The point and the direction (the tangent seeds).

    Returns
    -------
    value, tangent : ndarray, shape (m,) (shape () if ``f`` returns a scalar)
    """
    point, direction = _point(x), _point(v)
    if len(point) != len(direction):
        raise ValueError(f"`x` has {len(point)} entries but `v` has {len(direction)}")
    outputs, scalar = _outputs(f([Dual(p, d) for p, d in zip(point, direction)]), Dual)
    value = np.array([out.value for out in outputs])
    tangent = np.array([out.tangent for out in outputs])
    return (value[0], tangent[0]) if scalar else (value, tangent)


def jacobian_forward(f: Callable, x: Sequence[float]) -> np.ndarray:
    """The Jacobian of ``f`` at ``x`` in forward mode: one dual pass per **input**.

    Pass ``j`` seeds input ``j`` with tangent 1 (the others 0) and reads column ``j``.

    Parameters
    ----------
    f : callable
        ``f(xs) -> Dual or list of m Dual``; see :func:`jvp`.
    x : sequence of float, shape (n,)

    Returns
    -------
    ndarray, shape (m, n)
        ``m = 1`` when ``f`` returns a scalar.
    """
    point = _point(x)
    columns = []
    for j in range(len(point)):
        inputs = [Dual(p, 1.0 if i == j else 0.0) for i, p in enumerate(point)]
        outputs, _ = _outputs(f(inputs), Dual)
        columns.append([out.tangent for out in outputs])
    return np.array(columns, dtype=float).T.reshape(-1, len(point))


def jacobian_reverse(f: Callable, x: Sequence[float]) -> np.ndarray:
    """The Jacobian of ``f`` at ``x`` in reverse mode: one forward pass, then one
    backward sweep per **output**.

    Sweep ``i`` starts from output ``i`` and reads row ``i`` from the inputs' ``grad``.

    Parameters
    ----------
    f : callable
        ``f(xs) -> Value or list of m Value``; see :func:`gradient`.
    x : sequence of float, shape (n,)

    Returns
    -------
    ndarray, shape (m, n)
        ``m = 1`` when ``f`` returns a scalar.
    """
    inputs = [Value(v, (), "input") for v in _point(x)]
    outputs, _ = _outputs(f(inputs), Value)
    rows = []
    for output in outputs:
        for node in inputs:  # an input the output does not reach is not swept
            node.grad = 0.0
        output.backward()
        rows.append([node.grad for node in inputs])
    return np.array(rows, dtype=float).reshape(len(outputs), len(inputs))
