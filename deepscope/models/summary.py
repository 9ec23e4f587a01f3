"""A layer table: name, kind, output shape and parameter count of each layer."""
from __future__ import annotations

from torch import nn

from ..network import Network


def summary_table(net: nn.Module) -> str:
    """Render the layers of ``net`` as a text table.

    Args:
        net: a deepscope ``Network`` (shapes from the graph) or any ``nn.Module``.

    Returns:
        The table as a string.
    """
    rows = [("Layer", "Type", "Output shape", "Params")]
    if isinstance(net, Network):
        for node in net.nodes:
            module = node.module
            kind = node.call["fn"] if node.call else type(module).__name__
            params = sum(p.numel() for p in module.parameters()) if module is not None else 0
            rows.append((node.name, kind, str(list(node.shape)), f"{params:,}"))
    else:
        for name, module in net.named_children():
            params = sum(p.numel() for p in module.parameters())
            rows.append((name, type(module).__name__, "?", f"{params:,}"))
    total = sum(p.numel() for p in net.parameters())
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    line = "-" * (sum(widths) + 6)
    out = [line]
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            out.append(line)
    out += [line, f"Total params: {total:,} (trainable: {trainable:,})"]
    return "\n".join(out)
