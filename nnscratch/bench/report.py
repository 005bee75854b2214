"""Write a benchmark result as JSON, a markdown table and a PNG bar chart (atomically)."""
from __future__ import annotations

import json
import os
import tempfile

from nnscratch.bench.workloads import BY_NAME, TARGETS, epoch_flops

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def atomic_write(path, data, mode="w"):
    """Write text (mode 'w') or bytes (mode 'wb') atomically: nnscratch.saving.atomic_path."""
    from nnscratch.saving import atomic_path

    with atomic_path(path) as tmp, open(tmp, mode) as f:
        f.write(data)


def rows(result):
    """One dict per workload: each engine's median seconds, nnscratch's time over each peer's
    (``nnscratch/torch`` ...), the target, the GEMM FLOPs of the run, the GEMM floor (those
    FLOPs at the BLAS speeds measured at their shapes) and each engine's time over the floor
    (``x_floor``: 1.0 would be nothing but GEMM). Missing numbers are None."""
    summ, engines = result["summary"], result["engines"]
    floors = (result.get("gemm") or {}).get("floor_seconds") or {}
    out = []
    for wl in result["workloads"]:
        sec = {e: summ.get(e, {}).get(wl, {}).get("median_s") for e in engines}
        base = sec.get("nnscratch")
        floor = floors.get(wl)
        gflop = epoch_flops(BY_NAME[wl], result["quick"]) / 1e9
        out.append({
            "workload": wl, "seconds": sec, "target": TARGETS.get(wl), "gflop": gflop, "floor_s": floor,
            "ratio": {e: (base / t if base and t else None) for e, t in sec.items() if e != "nnscratch"},
            "x_floor": {e: (t / floor if t and floor else None) for e, t in sec.items()},
            "gflops": {e: (gflop / t if t else None) for e, t in sec.items()},
        })
    return out


def _num(x, fmt):
    return "n/a" if x is None else format(x, fmt)


def terminal_table(result):
    """The ratios as a plain-text table for the terminal (nnscratch / peer: below 1 is faster)."""
    engines = result["engines"]
    peers = [e for e in engines if e != "nnscratch"]
    head = (["workload"] + [f"{e} s" for e in engines] + [f"nnscratch/{e}" for e in peers] + ["target"]
            + (["GEMM floor s", "nnscratch x floor"] if "nnscratch" in engines else []))
    body = []
    for r in rows(result):
        line = [r["workload"]] + [_num(r["seconds"][e], ".3f") for e in engines]
        line += [_num(r["ratio"][e], ".2f") for e in peers]
        line += ["<= " + str(r["target"]) if r["target"] and "torch" in peers else "-"]
        if "nnscratch" in engines:
            line += [_num(r["floor_s"], ".3f"), _num(r["x_floor"]["nnscratch"], ".1f")]
        body.append(line)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]

    def fmt(cells):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


def _cell(s):
    if s is None:
        return "n/a"
    return f"{s['median_s']:.3f} s ({s['min_s']:.3f}-{s['max_s']:.3f})"


def markdown(result):
    summ, engines = result["summary"], result["engines"]
    m = result["machine"]
    lines = [
        f"Measured {result['started']} with `{result['command']}` ({result['reps']} reps, "
        f"medians; min-max in brackets; {result['wall_s'] / 60:.1f} min in all).",
        "",
        f"- Machine: {m['cpu']}, {m['logical_cores']} logical cores, {m['memory_gib']} GiB; {m['platform']}; "
        f"Python {m['python']}; load average at start {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in result['load_average_at_end'])}.",
        f"- Threads: {m['threads_per_engine']} for every engine (OMP/OPENBLAS/MKL_NUM_THREADS, "
        f"torch.set_num_threads, TF intra/inter-op). NumPy's BLAS: {m['numpy_blas']}. "
        f"OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset in the children: {m['unset_for_children']}.",
        f"- Data: {result['data']}; float32. Versions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(result["versions"].items()) if k != "blas") + ".",
        "- Each number is one fresh process per (engine, workload, rep), engines alternating; timed: one epoch of "
        "fit (after a 4.5-batch warm-up fit; with the workload's validation split, its evaluation included) or "
        "predict over the test images (after a warm-up predict).",
    ]
    lines += [f"- Note: {n}" for n in result["notes"]]
    peers = [e for e in engines if e != "nnscratch"]
    head = ("| workload | images | " + " | ".join(engines) + " | " + " | ".join(f"nnscratch / {e}" for e in peers)
            + " | GEMM floor | " + " | ".join(f"{e} x floor" for e in engines) + " |")
    lines += ["", "### Time (lower is better)", "",
              "nnscratch / peer below 1.0 means nnscratch is faster. GEMM floor: the run's matrix products alone "
              "at the float32 speeds NumPy's BLAS reaches at their shapes on this machine; x floor = time / floor.",
              "", head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows(result):
        wl = r["workload"]
        n = next((summ[e][wl]["images"] for e in engines if wl in summ.get(e, {})), "")
        row = [wl, str(n)] + [_cell(summ.get(e, {}).get(wl)) for e in engines]
        row += [_num(r["ratio"][e], ".2f") for e in peers]
        row += [_num(r["floor_s"], ".3f") + (" s" if r["floor_s"] else "")]
        row += [_num(r["x_floor"][e], ".1f") for e in engines]
        lines.append("| " + " | ".join(row) + " |")
    head = "| workload | " + " | ".join(f"{e} img/s" for e in engines) + " | " + " | ".join(
        f"{e} peak RSS MB" for e in engines) + " |"
    lines += ["", "### Throughput and peak resident memory (ru_maxrss of the child: framework + data + run)", "",
              head, "|" + "---|" * (head.count("|") - 1)]
    for wl in result["workloads"]:
        row = [wl] + [f"{summ[e][wl]['images_per_s']:,.0f}" if wl in summ.get(e, {}) else "n/a" for e in engines]
        row += [f"{summ[e][wl]['peak_rss_mb']:.0f}" if wl in summ.get(e, {}) else "n/a" for e in engines]
        lines.append("| " + " | ".join(row) + " |")
    if "torch" in engines and "nnscratch" in engines:
        lines += ["", "### Targets (issue 17): nnscratch time / PyTorch time, and peak memory", "",
                  "Median / median is the headline; fastest / fastest (each engine's best rep, the one least "
                  "disturbed by other load on the machine) is shown beside it because on a shared machine the "
                  "medians of multi-threaded engines can be dominated by descheduled threads.", "",
                  "| workload | nnscratch / torch (medians) | fastest / fastest | target | met (medians) | "
                  "nnscratch MB / torch MB (train: target <= 1) |",
                  "|---|---|---|---|---|---|"]
        for wl in result["workloads"]:
            a, b = summ.get("nnscratch", {}).get(wl), summ.get("torch", {}).get(wl)
            if not (a and b):
                continue
            r = a["median_s"] / b["median_s"]
            t = TARGETS.get(wl)
            mem = a["peak_rss_mb"] / b["peak_rss_mb"]
            met = "n/a (no target)" if t is None else ("yes" if r <= t else "NO")
            best = a["min_s"] / b["min_s"]
            lines.append(f"| {wl} | {r:.2f} | {best:.2f} | {'<= ' + str(t) if t else '-'} | {met} | {mem:.2f} |")
    g = result.get("gemm") or {}
    if "floor_seconds" in g:
        lines += ["", f"### Distance from the GEMM ceiling (NumPy float32 matmul, {g['peak_gflops']:.1f} GFLOP/s "
                  f"at {'x'.join(map(str, g['peak_shape']))})", "",
                  "GEMM floor = time of the workload's matrix products alone at the speeds NumPy reaches at those "
                  "shapes. Each engine: time / floor (1.0 = pure GEMM) and the GFLOP/s it sustains on the model's "
                  "GEMM work.", "",
                  "| workload | GFLOP per run | GEMM floor | " + " | ".join(f"{e}: x floor, GFLOP/s" for e in engines) + " |",
                  "|---|---|---|" + "---|" * len(engines)]
        for r in rows(result):
            row = [r["workload"], f"{r['gflop']:.1f}", _num(r["floor_s"], ".3f") + (" s" if r["floor_s"] else "")]
            row += [f"{r['x_floor'][e]:.1f}x, {r['gflops'][e]:.1f}" if r["x_floor"][e] else "n/a" for e in engines]
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", "<details><summary>GEMM speed at the models' shapes</summary>", "",
                  "| M x K x N | GFLOP/s | BLAS threads (the fastest way) |", "|---|---|---|"]
        lines += [f"| {s['M']} x {s['K']} x {s['N']} | {s['gflops']:.1f} | {s.get('blas_threads', 'env')} |"
                  for s in g["shapes"]]
        lines += ["", "</details>"]
    failures = [s for s in result["samples"] if "seconds" not in s]
    if failures:
        lines += ["", "### Failed or skipped runs", ""]
        lines += [f"- {s['engine']} {s['workload']} rep {s['rep']}: {s.get('error') or s.get('skipped')}" for s in failures]
    return "\n".join(lines) + "\n"


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ, engines, wls = result["summary"], result["engines"], result["workloads"]
    cols = 3
    rows = (len(wls) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    colors = {"nnscratch": "#2a9d8f", "torch": "#e76f51", "keras": "#8d99ae"}
    for ax, wl in zip(axes.flat, wls):
        names, med, lo, hi = [], [], [], []
        for e in engines:
            s = summ.get(e, {}).get(wl)
            if s:
                names.append(e)
                med.append(s["median_s"])
                lo.append(s["median_s"] - s["min_s"])
                hi.append(s["max_s"] - s["median_s"])
        ax.bar(names, med, yerr=[lo, hi], capsize=4, color=[colors.get(n, "gray") for n in names])
        for i, v in enumerate(med):
            ax.text(i, v, f"{v:.2f}s", ha="center", va="bottom", fontsize=8)
        ax.set_title(wl, fontsize=10)
        ax.set_ylabel("seconds (median, min-max)", fontsize=8)
    for ax in list(axes.flat)[len(wls):]:
        ax.axis("off")
    fig.suptitle(f"nnscratch vs PyTorch vs Keras, CPU, {result['machine']['threads_per_engine']} threads "
                 f"({result['started']})", fontsize=10)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=90)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the JSON and markdown beside it are not
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_all(result, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, n) for n in ("results.json", "results.md", "results.png")]
    atomic_write(paths[0], json.dumps(result, indent=1, sort_keys=True) + "\n")
    atomic_write(paths[1], "# Benchmark results\n\n" + markdown(result))
    plot(result, paths[2])
    return paths


def update_readme(result, readme):
    """Replace the text between the results markers of benchmarks/README.md with the table
    (markers ``<!-- results:start -->``/``end``; ``results-1thread`` for a --threads 1 run)."""
    threads = result["machine"]["threads_per_engine"]
    tag = "results" if threads == 2 else f"results-{threads}thread"
    start, end = README_START.replace("results", tag), README_END.replace("results", tag)
    with open(readme) as f:
        text = f.read()
    if start not in text or end not in text:
        raise ValueError(f"{readme}: the markers {start} / {end} are missing")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    atomic_write(readme, head + start + "\n" + markdown(result) + end + tail)
