"""Looking inside: `summary` (a Keras-style table of a model's layers) and `to_dot` / `render_dot`
(a tensor's computation graph in Graphviz dot).

    >>> tl.summary(tl.models.MLP1000(), (784,))          # prints the table, returns it as a str
    >>> loss = F.cross_entropy(model(x), y)
    >>> print(tl.to_dot(loss))                            # before backward(): it frees the graph
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from . import backend
from .function import no_grad
from .tensor import Tensor

__all__ = ["summary", "to_dot", "render_dot"]


# ------------------------------------------------------------------ summary
def _leaves(model):
    return [(name, m) for name, m in model.named_modules() if not m._modules]


def _shape_str(out):
    if isinstance(out, Tensor):
        return str(("None",) + tuple(out.shape[1:])).replace("'", "")
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_str(o) for o in out)
    return type(out).__name__


def summary(model, input_shape, device=None, dtype=np.float32, print_fn=print):
    """Print and return a table of `model`'s layers: name (type), output shape, parameter count.

    `input_shape` is one example's shape without the batch axis, e.g. (784,) for MNIST;
    a dummy batch of 2 zeros runs through the model under no_grad (on `device`, default the
    model's) and each leaf module (one without children: Linear, ReLU, ...) records its output
    shape as it is called. Shapes show the batch axis as None. Parameters held outside the
    leaf modules are counted on a row of their own. `print_fn=None` only returns the string.
    """
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    input_shape = tuple(int(s) for s in input_shape)
    params = model.parameters()
    dev = backend.canonical_device(device) if device is not None else (params[0].device if params else "cpu")
    rows, wrapped = [], []

    def wrap(name, m):
        forward = m.forward

        def recording(*args, **kwargs):
            out = forward(*args, **kwargs)
            rows.append((name, m, _shape_str(out)))
            return out
        object.__setattr__(m, "forward", recording)     # an instance attribute shadows the method
        wrapped.append(m)

    leaves = _leaves(model)
    for name, m in leaves:
        wrap(name or type(m).__name__, m)
    x = Tensor(backend.xp_for(dev).zeros((2,) + input_shape, dtype=dtype))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(x)
    finally:
        for m in wrapped:
            object.__delattr__(m, "forward")
        model.train(was_training)

    called = {id(m) for _, m, _ in rows}
    counted = set()
    table = []
    for name, m, shape in rows:
        n = sum(p.numel() for p in m.parameters() if id(p) not in counted)
        counted.update(id(p) for p in m.parameters())
        table.append((f"{name} ({type(m).__name__})", shape, n))
    for name, m in leaves:                                # leaves the forward never called
        if id(m) not in called:
            n = sum(p.numel() for p in m.parameters() if id(p) not in counted)
            counted.update(id(p) for p in m.parameters())
            table.append((f"{name or type(m).__name__} ({type(m).__name__}, not called)", "-", n))
    other = sum(p.numel() for p in params if id(p) not in counted)
    if other:
        table.append(("(parameters outside the layers)", "-", other))
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)

    w0 = max([len("Layer (type)")] + [len(r[0]) for r in table]) + 3
    w1 = max([len("Output Shape")] + [len(r[1]) for r in table]) + 3
    w2 = max([len("Param #")] + [len(f"{r[2]:,}") for r in table])
    width = w0 + w1 + w2
    lines = [f'Model: "{type(model).__name__}"', "_" * width,
             f"{'Layer (type)':<{w0}}{'Output Shape':<{w1}}{'Param #':>{w2}}", "=" * width,
             f"{'Input':<{w0}}{_shape_str(x):<{w1}}{'':>{w2}}"]
    lines += [f"{layer:<{w0}}{shape:<{w1}}{n:>{w2},}" for layer, shape, n in table]
    lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", f"Output: {_shape_str(out)}", "_" * width]
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text


# ------------------------------------------------------------------ computation graph
def _esc(s):
    return str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _esc_id(s):
    return '"' + _esc(s) + '"'


def _shape(t):
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.ndim == 1 else "") + ")"


def to_dot(tensor, params=None, name="tinygrad_lite"):
    """Graphviz dot source of the graph that computed `tensor` (walked iteratively).

    Op nodes (boxes) show the op's name and output shape; leaves (ellipses) show their shape
    and, from `params` (a dict name -> Tensor, e.g. `dict(model.named_parameters())`), their
    name. Leaves that require grad (the parameters and inputs being trained) are filled light
    blue, constants grey; the output is outlined in red. Draw it before `backward()` (which
    frees the graph) or after `backward(retain_graph=True)`; freed nodes say "(freed)".
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = {id(t): n for n, t in (params or {}).items()}
    lines = [f"digraph {_esc_id(name)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    ids, nodes, edges = {}, [], []

    def node_id(obj):
        k = id(obj)
        if k not in ids:
            ids[k] = f"n{len(ids)}"
        return ids[k]

    def leaf(t, root=False):
        label = _shape(t)
        if id(t) in names:
            label = f"{names[id(t)]}\n{label}"
        if t.requires_grad:
            style = 'style=filled, fillcolor="lightblue"'
        else:
            style = 'style=filled, fillcolor="lightgrey"'
        if root:
            style += ', color="red", penwidth=2'
        nodes.append(f'  {node_id(t)} [label="{_esc(label)}", shape=ellipse, {style}];')

    # each op node is the Function; its output's shape is known from the tensor that holds it
    seen = set()
    if tensor._ctx is None:
        leaf(tensor, root=True)
    stack = [tensor] if tensor._ctx is not None else []
    while stack:
        t = stack.pop()
        fn = t._ctx
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        inputs = fn.inputs
        label = f"{type(fn).__name__}\n{_shape(t)}" + ("\n(freed)" if inputs is None else "")
        extra = ', color="red", penwidth=2' if t is tensor else ""
        nodes.append(f'  {node_id(fn)} [label="{_esc(label)}", shape=box, style="rounded,filled", '
                     f'fillcolor="white"{extra}];')
        for inp in inputs or ():
            if inp._ctx is None:
                if id(inp) not in ids:
                    leaf(inp)
                edges.append(f"  {node_id(inp)} -> {node_id(fn)};")
            else:
                edges.append(f"  {node_id(inp._ctx)} -> {node_id(fn)};")
                if id(inp._ctx) not in seen:
                    stack.append(inp)
    lines += nodes + sorted(set(edges), key=edges.index) + ["}"]
    return "\n".join(lines) + "\n"


def render_dot(tensor, path, params=None):
    """Write the graph of `tensor` to `path` (e.g. "graph.png") with Graphviz's `dot -Tpng`.

    Without the `dot` executable installed, the dot source is written to `path` with the
    suffix ".dot" and a message says how to render it. Returns the path written.
    """
    path = Path(path)
    source = to_dot(tensor, params)
    exe = shutil.which("dot")
    if exe is None:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(source)
        print(f"render_dot: Graphviz's `dot` is not installed; wrote the source to {dot_path} "
              f"(install graphviz, e.g. `apt-get install graphviz`, then: dot -Tpng {dot_path} -o {path})")
        return dot_path
    fmt = path.suffix.lstrip(".") or "png"
    subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=source.encode(), check=True)
    return path
