"""Tuple states ``(z, logp)``: one flat vector inside, the user's tuple outside.

FFJORD and torchdiffeq write a continuous normalising flow's state as a tuple of
tensors, e.g. ``(z, logp)`` of shapes ``(batch, dim)`` and ``(batch, 1)``; ``func``
takes and returns such a tuple. The engine integrates one array, so :class:`TupleState`
joins the parts into one flat vector at the start, hands ``func`` (and the event
functions, the callbacks and a user ``norm``) views of it in the user's shapes, and
splits the stacked solution back into one array per part. The views cost no copies; the
one copy per evaluation is the joining of ``func``'s outputs. (Feature: torchdiffeq
compatibility.)
"""

import numbers

from .._arrays import is_torch

__all__ = ["TupleState", "is_tuple_state"]


def is_tuple_state(y0):
    """True for a tuple (or list) of arrays/tensors (a tuple of numbers is one array)."""
    return (
        isinstance(y0, (tuple, list))
        and len(y0) > 0
        and all(is_torch(part) or hasattr(part, "__array__") for part in y0)
        and not all(isinstance(part, numbers.Number) for part in y0)
    )


class TupleState:
    """The layout of a tuple state: each part's shape and where it sits in the flat vector."""

    def __init__(self, parts, backend_of):
        parts = tuple(parts)
        prepared = [backend_of(part) for part in parts]
        self.parts = tuple(part for part, _ in prepared)
        kinds = {type(part) for part in self.parts}
        if len(kinds) > 1:
            raise ValueError(
                "The parts of the tuple `y0` must all be torch tensors or all NumPy arrays, "
                f"got {', '.join(sorted(k.__name__ for k in kinds))}."
            )
        dtypes = {part.dtype for part in self.parts}
        if len(dtypes) > 1:
            listed = ", ".join(f"y0[{i}]: {part.dtype}" for i, part in enumerate(self.parts))
            raise ValueError(
                f"The parts of the tuple `y0` must share one dtype ({listed}); convert them "
                "(e.g. `logp.to(z.dtype)`)."
            )
        if is_torch(self.parts[0]) and len({part.device for part in self.parts}) > 1:
            raise ValueError("The parts of the tuple `y0` must be on one device.")
        self.shapes = tuple(tuple(part.shape) for part in self.parts)
        self.slices = []
        start = 0
        for part in self.parts:
            size = int(part.size) if not is_torch(part) else part.numel()
            self.slices.append(slice(start, start + size))
            start += size
        self.size = start
        self.backend = prepared[0][1]

    def flatten(self, parts):
        return self.backend.concat_flat(parts)

    def unflatten(self, flat):
        """Views of ``flat`` (shape ``(size,)``) in the parts' shapes."""
        return tuple(flat[s].reshape(shape) for s, shape in zip(self.slices, self.shapes))

    def unflatten_stacked(self, ys):
        """``ys`` of shape ``(T, size)`` as a tuple of ``(T, *shape_i)``."""
        count = ys.shape[0]
        return tuple(ys[:, s].reshape((count,) + shape)
                     for s, shape in zip(self.slices, self.shapes))

    def wrap(self, func, name="func"):
        """``func(t, tuple) -> tuple`` as a function of the flat vector."""
        shapes, unflatten, concat = self.shapes, self.unflatten, self.backend.concat_flat
        count = len(shapes)

        def flat_func(t, y):
            out = func(t, unflatten(y))
            if not isinstance(out, (tuple, list)) or len(out) != count:
                raise ValueError(
                    f"`{name}(t, y)` must return a tuple of {count} arrays/tensors, like "
                    f"`y0` (one dy/dt per part), got {type(out).__name__}"
                    + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
                    + "."
                )
            for i, (part, shape) in enumerate(zip(out, shapes)):
                got = tuple(getattr(part, "shape", ()))
                if got != shape:
                    raise ValueError(
                        f"`{name}(t, y)` returned part {i} with shape {got}, but `y0[{i}]` "
                        f"has shape {shape}; each part of dy/dt must have its part's shape."
                    )
            return concat(out)

        return flat_func

    def tolerance(self, value, name):
        """A tolerance for the flat state: a number stays a number; a tuple/list gives one
        tolerance per part (each a number or broadcastable to its part); a 1-D
        array/tensor of one entry per part is torchdiffeq's per-part form."""
        import numpy as np

        from .._arrays import to_numpy

        if isinstance(value, numbers.Real) or value is None:
            return value
        if isinstance(value, (tuple, list)):
            per_part = list(value)
        else:
            array = to_numpy(value, dtype=float)
            if array.ndim == 0:
                return float(array)
            if array.shape != (len(self.shapes),):
                raise ValueError(
                    f"`{name}` for a tuple state is a number, a tuple with one tolerance per "
                    f"part, or a 1-D array of {len(self.shapes)} (one per part); got shape "
                    f"{array.shape}."
                )
            per_part = list(array)
        if len(per_part) != len(self.shapes):
            raise ValueError(
                f"`{name}` has {len(per_part)} entries but the tuple state has "
                f"{len(self.shapes)} parts."
            )
        pieces = []
        for i, (tol, shape) in enumerate(zip(per_part, self.shapes)):
            tol = to_numpy(tol, dtype=float)
            try:
                pieces.append(np.broadcast_to(tol, shape).reshape(-1))
            except ValueError:
                raise ValueError(
                    f"`{name}[{i}]` of shape {tol.shape} does not broadcast to `y0[{i}]`'s "
                    f"shape {shape}."
                ) from None
        return np.concatenate(pieces)
