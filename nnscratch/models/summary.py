"""model.summary(): Keras's table of layers, output shapes and parameter counts."""
from __future__ import annotations

from nnscratch.layers.base import shape_str


def _fmt_bytes(n_params, bytes_per=4):
    size = n_params * bytes_per
    for unit, div in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if size >= div:
            return f"{size / div:.2f} {unit}"
    return f"{size:.2f} B"


def summary_rows(model):
    """[(name, class, output shape, params, connected_to)] for each layer."""
    rows = []
    graph = getattr(model, "_graph", None)
    connections = model.connections() if graph is not None else {}
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            if not (graph is not None and getattr(model, "_show_input_layers", False)):
                continue
        out = layer.output_shape
        if not layer.built or out is None:
            shape = "?"
        elif isinstance(out, list):  # a nested model with several outputs
            shape = ", ".join(shape_str(s) for s in out)
        else:
            shape = shape_str(out)
        connected = "-" if type(layer).__name__ == "InputLayer" else ", ".join(connections.get(id(layer), []))
        connected = connected if graph is not None else ""
        # a nested model is one row, as in Keras (its class: Sequential, Functional, or the subclass)
        cls = "Functional" if type(layer).__name__ == "Model" and getattr(layer, "_graph", None) is not None \
            else type(layer).__name__
        rows.append((layer.name, cls, shape, layer.count_params() if layer.built else 0, connected))
    return rows


def summary(model, line_length=None, print_fn=None):
    """Print (or pass to ``print_fn`` line by line) the summary table; returns its text."""
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' has not been built yet: give the first layer input_shape=, start with "
            "nn.Input(shape), or call the model on data before summary()"
        )
    rows = summary_rows(model)
    functional = any(r[4] for r in rows)
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    cells = [[f"{n} ({c})", s, f"{p:,}"] + ([conn] if functional else []) for n, c, s, p, conn in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) + 2 for i, h in enumerate(headers)] if cells else [len(h) + 2 for h in headers]
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - len(widths) - 1)

    def line(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right

    def row(values, right_align=(2,)):
        out = []
        for i, (v, w) in enumerate(zip(values, widths)):
            out.append((" " + v.rjust(w - 2) + " ") if i in right_align else (" " + v.ljust(w - 2) + " "))
        return "│" + "│".join(out) + "│"

    trainable = sum(l.count_trainable_params() for l in model.layers if l.trainable) + (
        sum(int(p.size) for p in model.params.values()) if model.trainable else 0)
    total = model.count_params()
    opt_params = 0
    if model.optimizer is not None and model.optimizer.state:  # iterations + learning_rate + slots (Keras)
        opt_params = 2 + sum(int(a.size) for st in model.optimizer.state.values() for a in st.values())
    lines = [f'Model: "{model.name}"',
             line("┏", "┳", "┓", "━"),
             "┃" + "┃".join((" " + h.rjust(w - 2) + " ") if i == 2 else (" " + h.ljust(w - 2) + " ")
                            for i, (h, w) in enumerate(zip(headers, widths))) + "┃",
             line("┡", "╇", "┩", "━")]
    for i, r in enumerate(cells):
        lines.append(row(r))
        if i < len(cells) - 1:
            lines.append(line("├", "┼", "┤", "─"))
    lines.append(line("└", "┴", "┘", "─"))
    lines.append(f" Total params: {total + opt_params:,} ({_fmt_bytes(total + opt_params)})")
    lines.append(f" Trainable params: {trainable:,} ({_fmt_bytes(trainable)})")
    lines.append(f" Non-trainable params: {total - trainable:,} ({_fmt_bytes(total - trainable)})")
    if opt_params:
        lines.append(f" Optimizer params: {opt_params:,} ({_fmt_bytes(opt_params)})")
    text = "\n".join(lines)
    if print_fn is None:
        print(text)
    else:
        for l in lines:
            print_fn(l)
    return text
