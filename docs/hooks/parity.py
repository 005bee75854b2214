"""TF-parity status of a class, read from docs/parity-report.md (written by tests.parity.report)."""
from __future__ import annotations

import functools
import re
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "parity-report.md"
# which report rows a class of each package is compared in
KINDS = {"nnscratch.layers": "layer", "nnscratch.losses": "loss", "nnscratch.optimizers": "optimizer"}


@functools.lru_cache(maxsize=1)
def rows():
    """{component: [(dtype, configurations, max_rel_err, passed)]} from the report's table."""
    table = {}
    if not REPORT.exists():
        return table
    for line in REPORT.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and re.fullmatch(r"float\d+", cells[1]):
            table.setdefault(cells[0], []).append((cells[1], cells[2], cells[4], cells[6] == "yes"))
    return table


def status_for(obj):
    """A short status line for a griffe class object, or None when the report does not cover
    its package (data loaders, callbacks, ...)."""
    path = obj.path
    kind = next((k for prefix, k in KINDS.items() if path.startswith(prefix + ".")), None)
    if kind is None:
        return None
    name = obj.name
    table = rows()
    entries = table.get(f"{kind} {name}")
    if entries is None and ".schedules." in path:
        combos = [v for k, vs in table.items() if k.endswith(f" + {name}") for v in vs]
        entries = combos or None
    if entries is None:
        return "not in the parity report"
    verdict = "pass" if all(e[3] for e in entries) else "FAIL"
    detail = ", ".join(f"{dt} max rel err {err} over {n} configurations" for dt, n, err, _ in entries)
    return f"{verdict} ({detail})"
