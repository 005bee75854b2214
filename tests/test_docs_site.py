"""The documentation site: it builds with warnings as errors, every public name has a page, the
Math sections convert, every internal link and anchor resolves, nothing is loaded from the
network, and in headless Chromium the formulas render and search finds "im2col".

The site is built once per session (``mkdocs build --strict`` into a temporary directory,
notebooks executed as tests/test_notebooks.py runs them). Skipped without MkDocs (``pip install
-e ".[docs]"``); the browser tests are skipped without Chromium. Marker: ``docs``.
"""
from __future__ import annotations

import ast
import html
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")
yaml = pytest.importorskip("yaml")

import nnscratch  # noqa: E402

from tests.chromium_cdp import Chromium, find_chromium  # noqa: E402

pytestmark = pytest.mark.docs
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
import griffe_nnscratch  # noqa: E402
import mathtext  # noqa: E402

if os.environ.get("NNSCRATCH_BACKEND", "numpy") != "numpy":
    pytest.skip("the docs are built once, in the plain (numpy) test pass", allow_module_level=True)


# ----------------------------------------------------------------------------- the build
class Built:
    def __init__(self, path, proc):
        self.path, self.proc = path, proc

    def page(self, rel):
        return (self.path / rel).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    return Built(out, proc)


def test_site_builds_with_warnings_as_errors(site):
    log = site.proc.stdout + site.proc.stderr
    assert site.proc.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    warnings = [ln for ln in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", ln)]
    assert not warnings, warnings
    assert (site.path / "index.html").exists() and (site.path / "objects.inv").exists()


# ----------------------------------------------------------------------------- coverage
def _defined_names(module):
    """Public top-level names defined (not imported) in a module's source."""
    tree = ast.parse(Path(module.__file__).read_text())
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
            names += [e.id for t in node.targets if isinstance(t, ast.Tuple) for e in t.elts
                      if isinstance(e, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


def public_names(module):
    """``__all__`` when the module has one, else the public names its source defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return _defined_names(module)


def public_modules():
    """nnscratch, every public module directly under it, and every module a public module
    exports in ``__all__`` (nn.optimizers.schedules, nn.debug.reference, nn.datasets.mnist...)."""
    found = {"nnscratch": nnscratch}
    for info in pkgutil.iter_modules(nnscratch.__path__):
        if not info.name.startswith("_"):
            name = f"nnscratch.{info.name}"
            found[name] = importlib.import_module(name)
    todo = list(found.values())
    while todo:
        module = todo.pop()
        for name in getattr(module, "__all__", []):
            value = getattr(module, name, None)
            if inspect.ismodule(value) and value.__name__.startswith("nnscratch") and value.__name__ not in found:
                found[value.__name__] = value
                todo.append(value)
    return found


def inventory(site):
    """Object paths rendered on the site (mkdocstrings' objects.inv)."""
    raw = (site.path / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    body = zlib.decompress(raw[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


def test_the_scan_finds_the_public_modules():
    modules = public_modules()
    for expected in ("nnscratch.layers", "nnscratch.losses", "nnscratch.metrics", "nnscratch.optimizers",
                     "nnscratch.optimizers.schedules", "nnscratch.callbacks", "nnscratch.models",
                     "nnscratch.datasets", "nnscratch.datasets.mnist", "nnscratch.data", "nnscratch.plot",
                     "nnscratch.debug", "nnscratch.backend", "nnscratch.cli"):
        assert expected in modules, sorted(modules)
    assert "Conv2D" in public_names(modules["nnscratch.layers"])
    assert "TracedLoss" in public_names(modules["nnscratch.losses"])  # from __all__
    assert "annotations" not in public_names(modules["nnscratch.losses"])  # an import is not defined here


def test_every_public_module_and_name_has_a_page(site):
    """Fails for a module added to nnscratch (nn.ops, nn.exercises...) until mkdocs.yml's nav
    has its line, and for a public name that the pages do not render."""
    rendered = inventory(site)
    missing = []
    for path, module in sorted(public_modules().items()):
        if path not in rendered:
            missing.append(f"module {path}: add '- nn.{path[len('nnscratch.'):]}: api/{path}.md' to the"
                           " API reference in mkdocs.yml")
            continue
        for name in public_names(module):
            obj = getattr(module, name, None)
            # a name is documented under the module that exports it, or where it is defined
            # (nn.debug.trace, the function, shares its name with the module nnscratch.debug.trace)
            canonical = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
            if f"{path}.{name}" not in rendered and canonical not in rendered:
                missing.append(f"{path}.{name}")
    assert not missing, "public names without a page:\n" + "\n".join(missing)


def test_each_api_nav_entry_documents_a_module_that_exists():
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.SafeLoader)
    spec = importlib.util.spec_from_file_location("nn_docs_site_hook", ROOT / "docs" / "hooks" / "site.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    modules = hook.api_modules(config["nav"])
    assert "api/nnscratch.layers.md" in modules and modules["api/nnscratch.layers.md"] == "nnscratch.layers"
    for page, module in modules.items():
        importlib.import_module(module)  # raises for a typo in the nav


# ----------------------------------------------------------------------------- math
def _math_classes():
    seen = {}
    for path, module in public_modules().items():
        for name in public_names(module):
            obj = getattr(module, name, None)
            if inspect.isclass(obj) and "Math" in (inspect.getdoc(obj) or "") and obj.__module__.startswith("nnscratch"):
                lines = inspect.getdoc(obj).split("\n")
                if list(mathtext.find_math_blocks(lines)):
                    seen.setdefault(id(obj), (f"{path}.{name}", obj))
    return list(seen.values())


def test_every_math_block_converts():
    classes = _math_classes()
    assert len(classes) >= 25, [p for p, _ in classes]  # layers, losses, optimizers
    failures = []
    for path, cls in classes:
        before = len(griffe_nnscratch.FAILURES)
        markdown = griffe_nnscratch.prepare_docstring(inspect.getdoc(cls), path)
        failures += griffe_nnscratch.FAILURES[before:]
        assert 'class="nn-math"' in markdown, path
        assert not re.search(r"^\s*Math\b[^:\n]*:", markdown, flags=re.M), f"{path}: a Math block was left as text"
    assert not failures, failures


def test_each_math_block_is_on_its_page(site):
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (site.path / "api").glob("*.html")}
    for path, _ in _math_classes():
        module = path.rsplit(".", 1)[0]
        text = pages.get(module)
        assert text is not None, f"no page for {module}"
        start = text.find(f'id="{path}"')
        assert start >= 0, f"{path} is not on api/{module}.html"
        nxt = text.find('class="doc doc-heading"', text.find(">", start))
        section = text[start:nxt if nxt > 0 else None]
        assert "nn-math-table" in section, f"{path}: its Math table is missing on the page"
        assert "TF parity:" in section or ".layers." not in path, f"{path}: no TF-parity line"
        assert 'class="nn-source"' in section, f"{path}: no source link"


@pytest.mark.parametrize("text, expected", [
    ("dW = x^T @ dz", [r"x^{\top} \,  dz", r"dW  ="]),
    ("db = sum_{N,H_out,W_out} dz", [r"\sum_{N,H_{\text{out}},W_{\text{out}}}"]),
    ("v <- rho * v + (1 - rho) * g^2", [r"\leftarrow", r"\rho \cdot  v", "g^{2}"]),
    ("x_hat = (x - mu) / sqrt(var + epsilon)", [r"\hat{x}", r"\sqrt{\operatorname{var} + \epsilon}", r"\mu"]),
    ("dL/dz = (p - onehot(y)) / N", [r"\frac{\partial L}{\partial z}", r"\operatorname{onehot}(y)"]),
    ("q = clip(p, 1e-7, 1 - 1e-7)", ["10^{-7}"]),
])
def test_formula_to_tex(text, expected):
    tex = mathtext.formula_to_tex(text)
    for piece in expected:
        assert piece in tex, (text, tex, piece)


def test_prose_stays_prose_and_formulas_become_math():
    out = mathtext.line_to_html("dx_i = dy for every i (the same array object: nothing mutates it)")
    spans = re.findall(r'<span class="arithmatex">(.*?)</span>', out)
    assert spans[0] == r"\(dx_{i}  =  dy\)", spans
    assert "(the same array object: nothing mutates it)" in re.sub(r'<span class="arithmatex">.*?</span>', "", out)


def test_unconvertible_formula_is_an_error():
    with pytest.raises(mathtext.MathError):
        mathtext.formula_to_tex("y = sqrt(x")


# ----------------------------------------------------------------------------- links, offline
class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.refs, self.external = set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            value = attrs.get(key)
            if not value:
                continue
            if re.match(r"(https?:)?//", value):
                # links *to* the web are fine; loading a resource from it is not
                if tag in ("script", "img", "iframe", "source", "audio", "video", "embed") or (
                        tag == "link" and attrs.get("rel") not in ("canonical",)):
                    self.external.append(f"<{tag} {key}={value}>")
            else:
                self.refs.append(value)


def _parse_site(site):
    parsed = {}
    for path in site.path.rglob("*.html"):
        p = _Refs()
        p.feed(path.read_text(encoding="utf-8"))
        parsed[path] = p
    return parsed


def test_internal_links_and_anchors_resolve(site):
    parsed = _parse_site(site)
    broken = []
    for path, refs in parsed.items():
        if path.name == "404.html":  # served by a web server for any URL: its links are root-relative
            continue
        for ref in refs.refs:
            parts = urlsplit(ref)
            if parts.scheme in ("mailto", "data", "javascript", "file") or ref.startswith("{"):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(site.path)}: {ref} (no file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(site.path)}: {ref} (no anchor)")
    assert not broken, f"{len(broken)} broken links, first ones:\n" + "\n".join(broken[:30])


def test_nothing_is_loaded_from_the_network(site):
    parsed = _parse_site(site)
    external = [f"{p.relative_to(site.path)}: {e}" for p, r in parsed.items() for e in r.external]
    for css in site.path.rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?([^)'\"]+)", css.read_text(encoding="utf-8")):
            if re.match(r"(https?:)?//", url):
                external.append(f"{css.relative_to(site.path)}: url({url})")
        if re.search(r"@import\s+(url\()?['\"]?(https?:)?//", css.read_text(encoding="utf-8")):
            external.append(f"{css.relative_to(site.path)}: @import from the network")
    for path in list(site.path.rglob("*.html")) + list(site.path.rglob("*.js")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name.startswith("bundle."):
            # Material's bundle names a few CDN URLs in code that runs only when needed: a
            # ResizeObserver polyfill (every current browser has ResizeObserver), mermaid (no
            # diagrams here), Google Fonts (theme.font is off). The browser tests record every
            # request and check that none leaves the machine.
            for allowed in ("https://unpkg.com/resize-observer-polyfill", "https://unpkg.com/mermaid@"):
                text = text.replace(allowed, "")
        for host in ("unpkg.com", "cdn.jsdelivr.net", "cdnjs.cloudflare.com", "polyfill.io", "mathjax.org",
                     "fonts.googleapis.com", "fonts.gstatic.com"):
            if host in text and not (host.startswith("fonts.") and path.name.startswith("bundle.")):
                external.append(f"{path.relative_to(site.path)}: mentions {host}")
    assert not external, "\n".join(external)
    assert (site.path / "assets" / "katex" / "katex.min.js").exists()
    assert list((site.path / "assets" / "katex" / "fonts").glob("*.woff2"))


def test_search_index_finds_im2col(site):
    import json

    index = json.loads((site.path / "search" / "search_index.json").read_text(encoding="utf-8"))
    hits = [d["location"] for d in index["docs"] if "im2col" in (d["title"] + d["text"]).lower()]
    assert any(h.startswith("api/nnscratch.layers.html#nnscratch.layers.Conv2D") for h in hits), hits
    assert not [d for d in index["docs"] if d["location"].startswith("source/")], "source pages are not searched"


def test_tutorials_have_their_figures(site):
    figures = list((site.path / "tutorials").rglob("*.png"))
    assert len(figures) >= 5, figures
    text = site.page("tutorials/04_lenet_filters_feature_maps.html")
    assert re.search(r'<img[^>]+src="04_lenet_filters_feature_maps_files/cell\d+_\d+\.png"', text)


def test_cli_page_shows_every_subcommand(site):
    text = html.unescape(site.page("api/nnscratch.cli.html"))
    for sub in ("train", "evaluate", "predict"):
        assert f"$ nnscratch {sub} --help" in text, sub
    assert "--batch-size" in text


# ----------------------------------------------------------------------------- in the browser
@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    chromium = Chromium(binary)
    yield chromium
    chromium.close()


_VISIBLE_TEXT = """(() => {
  const el = %s;
  if (!el) return null;
  const copy = el.cloneNode(true);
  copy.querySelectorAll('.katex-mathml, script, style').forEach(n => n.remove());
  return {text: copy.textContent, katex: el.querySelectorAll('.katex').length,
          errors: el.querySelectorAll('.katex-error').length,
          math_rows: el.querySelectorAll('.nn-math-table tr').length};
})()"""
RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$|\\frac|\\cdot|\\mathit|\\operatorname|\\text\{|\\sum|`")


def test_conv2d_formulas_render_in_chromium(site, browser):
    url = (site.path / "api" / "nnscratch.layers.html").as_uri()
    tab = browser.open(url)
    assert browser.wait_for(tab, "document.body && document.body.dataset.nnMath"), "KaTeX did not run"
    section = "document.getElementById('nnscratch.layers.Conv2D').closest('.doc-class')"
    info = browser.evaluate(tab, _VISIBLE_TEXT % section)
    assert info is not None, "no Conv2D section"
    assert info["errors"] == 0, "KaTeX could not parse some formulas"
    assert info["math_rows"] >= 9 and info["katex"] >= 10, info
    leftovers = RAW_MATH.findall(info["text"])
    assert not leftovers, f"raw math left in the visible text: {leftovers[:10]}"
    assert "2-D convolution via im2col" in info["text"]
    shot = os.environ.get("NNSCRATCH_DOCS_SCREENSHOT")
    if shot:  # for a person to look at: NNSCRATCH_DOCS_SCREENSHOT=/tmp/conv2d.png
        browser.evaluate(tab, "document.getElementById('nnscratch.layers.Conv2D').scrollIntoView()")
        browser.screenshot(tab, shot)


def test_no_math_error_or_raw_tex_on_any_api_page(site, browser):
    problems, pages = [], sorted((site.path / "api").glob("*.html"))
    tabs = []
    for k, page in enumerate(pages):  # six tabs load at a time
        tabs.append((page, browser.open(page.as_uri())))
        if len(tabs) < 6 and k + 1 < len(pages):
            continue
        problems += _check_tabs(browser, tabs)
        tabs = []
    assert not problems, problems


def _check_tabs(browser, tabs):
    problems = []
    for page, tab in tabs:
        if not browser.wait_for(tab, "document.body && document.body.dataset.nnMath !== undefined", timeout=15):
            problems.append(f"{page.name}: the math renderer did not run")
            browser.close_tab(tab)
            continue
        info = browser.evaluate(tab, _VISIBLE_TEXT % "document.querySelector('article')")
        if info["errors"]:
            problems.append(f"{page.name}: {info['errors']} KaTeX errors")
        if re.search(r"\\\(|\\frac|\\mathit|\\operatorname", info["text"]):
            problems.append(f"{page.name}: raw TeX in the text")
        browser.close_tab(tab)
    return problems


def test_notebook_math_renders_in_chromium(site, browser):
    tab = browser.open((site.path / "tutorials" / "02_neuron_softmax_crossentropy.html").as_uri())
    assert browser.wait_for(tab, "document.body && document.body.dataset.nnMath")
    info = browser.evaluate(tab, _VISIBLE_TEXT % "document.querySelector('article')")
    assert info["katex"] > 0 and info["errors"] == 0, info
    prose = re.sub(r"```.*?```", "", info["text"], flags=re.S)
    assert "$" not in prose.replace("$ nnscratch", ""), "a $...$ formula was not rendered"


def test_search_finds_im2col_in_chromium(site, browser):
    # from disk (file://), as on a lab machine without a web server: Material's search worker
    # runs through the vendored iframe-worker shim
    tab = browser.open((site.path / "index.html").as_uri() + "?q=im2col")
    count = browser.wait_for(tab, "document.querySelectorAll('.md-search-result__item').length", timeout=40)
    assert count, "the search UI showed no result for 'im2col'"
    results = browser.evaluate(tab, "Array.from(document.querySelectorAll('.md-search-result__item'))"
                                    ".map(e => e.textContent).join(' | ')")
    assert "im2col" in results.lower(), results[:500]


def test_the_browser_never_left_the_machine(site, browser):
    """Pages, math, fonts, search: every request the browser made was local (file:)."""
    for rel in ("index.html?q=im2col", "api/nnscratch.layers.html", "tutorials/04_lenet_filters_feature_maps.html"):
        path, _, query = rel.partition("?")
        tab = browser.open((site.path / path).as_uri() + (f"?{query}" if query else ""))
        browser.wait_for(tab, "document.body && document.body.dataset.nnMath !== undefined")
        if query:
            browser.wait_for(tab, "document.querySelectorAll('.md-search-result__item').length", timeout=40)
    local = [u for u in browser.requests if u.startswith("file:")]
    assert any(u.endswith(".woff2") for u in local), "KaTeX's fonts were not loaded from the site"
    assert not browser.external_requests(), browser.external_requests()
