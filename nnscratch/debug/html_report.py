"""One training step as a self-contained HTML page (``tr.save_html('step.html')``).

Everything is inline: images are base64 PNG data URIs drawn here with NumPy and Pillow,
histograms are inline SVG, CSS and the little JavaScript are in the page. No server, no
network. The page shows the model as a column of layers; each layer's panel has its forward
output and the gradient arriving at it (feature maps as image grids, vectors as heat strips,
one row per sample), histograms of its weights and of the optimizer's update, shapes, norms,
``upd/w`` and the share of dead ReLUs. Clicking a layer opens its cache (names, shapes, stats)
and its formulas (the docstring's Math block). With a gradient-check result, parameters whose
error is above the tolerance are drawn in red; ``save_gradcheck_html`` writes that table alone.
"""
from __future__ import annotations

import base64
import html
import inspect
import io

import numpy as np

from nnscratch import backend

MAX_MAPS = 16  # feature maps per grid
MAX_ROWS = 16  # samples per heat strip
CSS = """body{font:14px system-ui,sans-serif;margin:20px;background:#fafafa;color:#222}
h1{font-size:20px}.layer{background:#fff;border:1px solid #ccc;border-radius:6px;margin:10px 0;padding:8px 12px}
.layer.bad{border:2px solid #c00}.head{cursor:pointer;font-weight:600}.shape{color:#555;font-weight:400}
.row{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start;margin-top:6px}.fig{font-size:12px;color:#444}
.fig svg{display:block}.fig img{display:block;image-rendering:pixelated;border:1px solid #ddd;max-width:520px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}.fail{color:#c00;font-weight:600}.ok{color:#070}
pre{background:#f4f4f4;padding:6px;font-size:12px;overflow-x:auto}.stats{font-size:12px;color:#333}
.arrow{text-align:center;color:#888;margin:-4px 0}"""
# The page checks itself on load: every drawing must have pixels that differ (not blank).
JS = """window.addEventListener('load',function(){var imgs=document.querySelectorAll('img.plot'),blank=[];
imgs.forEach(function(im){var c=document.createElement('canvas');c.width=im.naturalWidth;c.height=im.naturalHeight;
var g=c.getContext('2d');g.drawImage(im,0,0);var d=g.getImageData(0,0,c.width,c.height).data,lo=255,hi=0;
for(var i=0;i<d.length;i+=4){var v=d[i]+d[i+1]+d[i+2];if(v<lo)lo=v;if(v>hi)hi=v;}if(c.width==0||hi-lo<10)blank.push(im.alt);});
var r=document.getElementById('selfcheck');r.setAttribute('data-panels',document.querySelectorAll('.layer').length);
r.setAttribute('data-images',imgs.length);r.setAttribute('data-blank',blank.length);r.textContent='self-check: '+
document.querySelectorAll('.layer').length+' layer panels, '+imgs.length+' drawings, '+blank.length+' blank'+
(blank.length?': '+blank.join(', '):'');var d=document.querySelector('[id^=detail]');if(d){toggle(d.id);
r.setAttribute('data-toggle',d.style.display=='block'?'ok':'broken');toggle(d.id);}});
function toggle(id){var e=document.getElementById(id);e.style.display=e.style.display=='none'?'block':'none';}"""


def _e(text):
    return html.escape(str(text))


def _png(rgb, sx, sy):
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    if sx > 1 or sy > 1:
        img = img.resize((img.width * sx, img.height * sy), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _colour(a, diverging):
    """float array -> uint8 RGB: viridis over [min, max], or blue-white-red symmetric around 0."""
    from matplotlib import colormaps

    a = np.nan_to_num(np.asarray(a, dtype=np.float64))
    if diverging:
        m = max(float(np.abs(a).max()), 1e-30)
        t, cmap = (a / m + 1) / 2, colormaps["RdBu_r"]
    else:
        lo, hi = float(a.min()), float(a.max())
        t, cmap = (a - lo) / (hi - lo if hi > lo else 1.0), colormaps["viridis"]
    return (cmap(t)[..., :3] * 255).astype(np.uint8)


def _grid(maps, diverging):
    """(H, W, C) maps of one sample -> an RGB grid of up to MAX_MAPS tiles, each normalised
    with the shared scale of the sample so that tiles compare."""
    H, W, C = maps.shape
    C = min(C, MAX_MAPS)
    cols = min(C, 8)
    rows = -(-C // cols)
    canvas = np.full((rows * (H + 1) - 1, cols * (W + 1) - 1, 3), 255, dtype=np.uint8)
    rgb = _colour(maps[..., :C], diverging)
    for c in range(C):
        r, k = divmod(c, cols)
        canvas[r * (H + 1):r * (H + 1) + H, k * (W + 1):k * (W + 1) + W] = rgb[:, :, c]
    return canvas


def _drawing(a, diverging, alt, caption):
    """<figure> of an activation or gradient array (None -> a note)."""
    if a is None:
        return f'<div class="fig">{_e(caption)}: not computed in training</div>'
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 4:
        rgb = _grid(a[0], diverging)
        what = f"sample 0, {min(a.shape[-1], MAX_MAPS)} of {a.shape[-1]} maps"
    else:
        strip = a.reshape(a.shape[0], -1)[:MAX_ROWS]
        rgb = _colour(strip, diverging)
        what = f"{strip.shape[0]} samples x {strip.shape[1]} units"
    sx = max(1, min(12, 480 // max(rgb.shape[1], 1)))
    sy = max(1, min(12, 160 // max(rgb.shape[0], 1)))
    if a.ndim == 4:
        sx = sy = min(sx, sy)  # square pixels for images
    legend = "blue < 0 < red, symmetric" if diverging else "viridis, min..max"
    return (f'<div class="fig"><img class="plot" alt="{_e(alt)}" src="{_png(rgb, sx, sy)}">'
            f'{_e(caption)} ({_e(what)}; {_e(legend)})</div>')


def _histogram(values, colour, title):
    """Inline SVG histogram of ``values`` (30 bins)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    counts, edges = np.histogram(v, bins=30)
    w, h = 240, 70
    top = max(int(counts.max()), 1)
    bars = "".join(f'<rect x="{i * w / 30:.1f}" y="{h - c * h / top:.1f}" width="{w / 30 - 1:.1f}" '
                   f'height="{c * h / top:.1f}" fill="{colour}"/>' for i, c in enumerate(counts))
    return (f'<div class="fig"><svg class="hist" width="{w}" height="{h + 14}" xmlns="http://www.w3.org/2000/svg">'
            f'{bars}<text x="0" y="{h + 12}" font-size="10">{edges[0]:.3g}</text>'
            f'<text x="{w}" y="{h + 12}" font-size="10" text-anchor="end">{edges[-1]:.3g}</text></svg>{_e(title)}</div>')


def _fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def _norm(a):
    return None if a is None else float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=np.float64)))))


def math_block(obj):
    """The docstring's ``Math:`` block of ``obj``'s class (or its summary line)."""
    doc = inspect.cleandoc(inspect.getdoc(type(obj)) or "")
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("Math"):
            block = [line]
            for nxt in lines[i + 1:]:
                if nxt and not nxt.startswith(" "):
                    break
                block.append(nxt)
            return "\n".join(block).rstrip()
    return lines[0] if lines else ""


def _cache_table(cache):
    rows = []
    for k, v in (cache or {}).items():
        if backend.is_array(v):
            a = np.asarray(backend.to_host(v))
            stats = (f"{a.astype(np.float64).mean():.3g}", f"{a.astype(np.float64).std():.3g}",
                     f"{a.min():.3g}", f"{a.max():.3g}") if a.size and a.dtype.kind in "fiub" else ("",) * 4
            rows.append(f"<tr><td>{_e(k)}</td><td>{_e(tuple(a.shape))}</td><td>{a.dtype}</td>"
                        + "".join(f"<td>{s}</td>" for s in stats) + "</tr>")
        else:
            rows.append(f'<tr><td>{_e(k)}</td><td colspan="6" style="text-align:left">{_e(repr(v))[:120]}</td></tr>')
    if not rows:
        return "<p>(empty cache)</p>"
    return ("<table><tr><th>cache key</th><th>shape</th><th>dtype</th><th>mean</th><th>std</th><th>min</th>"
            "<th>max</th></tr>" + "".join(rows) + "</table>")


def _bad(v, tol):
    """A gradient-check error at or above tol (NaN = every coordinate at a kink: unchecked, not bad)."""
    return v == v and not v < tol


def _failed(gradcheck, layer_name, tol):
    """{param: error} of this layer's parameters whose gradient-check error is >= tol."""
    if not gradcheck:
        return {}
    return {k.split("/", 1)[1]: v for k, v in gradcheck.items() if "/" in k and k.split("/", 1)[0] == layer_name
            and _bad(v, tol)}


def _panel(rec, layer, gradcheck, tol, cache, flags=()):
    bad = _failed(gradcheck, rec.name, tol)
    zf = rec.zero_fraction
    stats = [f"|y| {_fmt(_norm(rec.y))}", f"|dy| {_fmt(_norm(rec.dy))}" + (" (at the logits)" if rec.dy_at_logits else ""),
             f"|dx| {_fmt(_norm(rec.dx))}", f"|grad| {_fmt(rec.grad_norm)}", f"upd/w {_fmt(rec.update_ratio, '.2e')}"]
    if zf is not None:
        stats.append(f"dead ReLUs {100 * zf:.1f}%")
    stats += [f"flag {code}: {msg}" for code, msg in flags]  # trace's flags (see debug.trace)
    params = []
    for k, w in rec.params_before.items():
        err = "" if not gradcheck or f"{rec.name}/{k}" not in gradcheck else \
            f" gradcheck {gradcheck[rec.name + '/' + k]:.1e}"
        cls = "fail" if k in bad else ("ok" if err else "")
        params.append(f'<span class="{cls}">{_e(k)} {_e(tuple(w.shape))}{err}</span>')
    figs = [_drawing(rec.y, False, f"{rec.name} forward", "forward output y"),
            _drawing(rec.dy if rec.backward_ran else None, True, f"{rec.name} backward",
                     "dL/dz at the logits" if rec.dy_at_logits else "backward: dL/dy arriving here")]
    for k, w in rec.params_before.items():
        figs.append(_histogram(w, "#c00" if k in bad else "#4c72b0", f"{k} values"))
        upd = rec.update.get(k)
        if upd is not None:
            figs.append(_histogram(upd, "#dd8452", f"{k} update (after - before)"))
    pid = f"detail{rec.index}"
    return (f'<div class="layer{" bad" if bad else ""}" id="layer-{_e(rec.name)}">'
            f'<div class="head" onclick="toggle(\'{pid}\')">{rec.index}. {_e(rec.name)} ({_e(rec.class_name)}) '
            f'<span class="shape">{_e(tuple(rec.x.shape))} &rarr; {_e(tuple(rec.y.shape))}; click for cache and formulas'
            f'</span></div><div class="stats">{" &middot; ".join(_e(s) for s in stats)}'
            f'{"<br>params: " + ", ".join(params) if params else ""}</div>'
            f'<div class="row">{"".join(figs)}</div>'
            f'<div id="{pid}" style="display:none"><pre>{_e(math_block(layer))}</pre>{_cache_table(cache)}</div></div>')


def _gradcheck_table(gradcheck, tol):
    left_out = getattr(gradcheck, "left_out", {})
    rows = "".join(f'<tr class="{"fail" if _bad(v, tol) else "ok"}"><td>{_e(k)}</td><td>{v:.2e}</td>'
                   f'<td>{"FAILED" if _bad(v, tol) else ("unchecked" if v != v else "ok")}'
                   f'{(" (" + _e(left_out[k]) + ")") if k in left_out else ""}</td></tr>' for k, v in gradcheck.items())
    n_bad = sum(_bad(v, tol) for v in gradcheck.values())
    return (f"<h2>Gradient check: {n_bad} of {len(gradcheck)} arrays above {tol:g}</h2>"
            f"<table><tr><th>array</th><th>relative error</th><th></th></tr>{rows}</table>")


def _page(title, body):
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title><style>{CSS}</style>"
            f"</head><body><h1>{_e(title)}</h1>{body}<p id='selfcheck'>self-check did not run</p>"
            f"<script>{JS}</script></body></html>")


def render_trace(tr, title="One training step", gradcheck=None, tol=1e-6, layers=None, caches=None,
                 note="Cache shown as the layers hold it after the step."):
    """The HTML text of a recorded ``trace`` (and, optionally, a gradient-check result).
    ``layers`` (default ``tr.model.layers``) give the formulas; ``caches`` (default each
    layer's current cache) the cache tables."""
    if not tr.records or tr.records[0].y is None:
        raise RuntimeError("save_html: the trace holds no step (call model.train_on_batch or fit inside the block)")
    layers = list(tr.model.layers if layers is None else layers)
    caches = [l.cache for l in layers] if caches is None else caches
    head = (f"<p>loss {_fmt(tr.loss, '.6g')}; {len(tr.records)} layers, input {_e(tuple(tr.records[0].x.shape))}. "
            f"Forward runs top to bottom, backward bottom to top. {_e(note)}</p>")
    flags = {}
    for name, code, msg in getattr(tr, "flags", []):
        flags.setdefault(name, []).append((code, msg))
    panels = '<div class="arrow">&darr;</div>'.join(
        _panel(r, l, gradcheck, tol, c, flags.get(r.name, ())) for r, l, c in zip(tr.records, layers, caches))
    extra = _gradcheck_table(gradcheck, tol) if gradcheck else ""
    return _page(title, head + extra + panels)


def save_trace_html(tr, path, title="One training step", gradcheck=None, tol=1e-6):
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_trace(tr, title, gradcheck, tol))
    return path


def save_gradcheck_html(result, path, title="Gradient check", tol=1e-6):
    """A page of a ``gradient_check`` result alone: one row per array, failures in red."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(_page(title, _gradcheck_table(result, tol)))
    return path
