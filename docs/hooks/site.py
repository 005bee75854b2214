"""MkDocs hooks that build the generated parts of the nnscratch site.

- API pages: every nav entry ``api/<module>.md`` without a file of its own becomes a page
  holding ``::: <module>`` (so documenting a new module is one nav line in mkdocs.yml).
- Source pages: every ``nnscratch/**/*.py`` is shown at ``source/<path>.md`` with line anchors,
  so that each API entry links to its code inside the site (works offline).
- Tutorials: the notebooks are executed with nbclient on small data (as tests/test_notebooks.py
  runs them) and converted to Markdown with their figures, into ``tutorials/``. The executed
  copies are cached in ``.cache/docs-notebooks/`` under a hash of the notebook and of the
  package's source, so a rebuild re-runs only what changed (``NNSCRATCH_DOCS_EXECUTE=0`` skips
  execution and shows the code only; ``=force`` ignores the cache).
- ``<!-- nn:cli -->`` is replaced by the ``--help`` of the command and each subcommand (argparse),
  ``<!-- nn:include PATH -->`` by a file of the repository (headings shifted one level down).
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / ".cache" / "docs-notebooks"
log = logging.getLogger("mkdocs.plugins.nnscratch")
TIMINGS: dict[str, float] = {}


# ----------------------------------------------------------------------------- nav helpers
def nav_paths(nav):
    """Every page path listed in a mkdocs nav (nested lists/dicts of 'Title: path')."""
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_paths(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_paths(value)


def api_modules(nav):
    """{'api/nnscratch.layers.md': 'nnscratch.layers', ...} from the nav."""
    return {p: p[len("api/"):-len(".md")] for p in nav_paths(nav)
            if p.startswith("api/") and p.endswith(".md") and p != "api/index.md"}


# ----------------------------------------------------------------------------- mkdocs events
def on_config(config):
    sys.path.insert(0, str(ROOT))  # document the working tree, not an installed copy
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    return config


def on_files(files, config):
    existing = {f.src_uri for f in files}
    for page, module in api_modules(config["nav"]).items():
        if page not in existing:
            files.append(File.generated(config, page, content=f"::: {module}\n"))
    for path in sorted((ROOT / "nnscratch").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        code = path.read_text()
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", code)), default=0))
        files.append(File.generated(
            config, f"source/{rel}.md",
            content=f"---\nsearch:\n  exclude: true\n---\n\n# `{rel}`\n\n{fence}python linenums=\"1\"\n{code}{fence}\n"))
    for image in included_images(config, files):
        files.append(File.generated(config, f"included/{image}", abs_src_path=str(ROOT / image)))
    for page, content, images in tutorials():
        if page not in existing:
            files.append(File.generated(config, page, content=content))
        for name, data in images.items():
            files.append(File.generated(config, name, content=data))
    return files


def on_page_markdown(markdown, page, config, files):
    if "<!-- nn:cli -->" in markdown:
        markdown = markdown.replace("<!-- nn:cli -->", cli_help())
    depth = page.file.src_uri.count("/")
    for m in list(re.finditer(r"<!-- nn:include (\S+) -->", markdown)):
        markdown = markdown.replace(m.group(0), include(m.group(1), "../" * depth))
    return markdown


_INCLUDE = re.compile(r"<!-- nn:include (\S+) -->")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def included_images(config, files):
    """Repository images that included files show (copied into the site under included/)."""
    found = []
    for f in files.documentation_pages():
        if f.abs_src_path and Path(f.abs_src_path).exists():
            for m in _INCLUDE.finditer(Path(f.abs_src_path).read_text()):
                base = Path(m.group(1)).parent
                for img in _IMAGE.finditer((ROOT / m.group(1)).read_text()):
                    rel = (base / img.group(2)).as_posix()
                    if not re.match(r"[a-z]+:", img.group(2)) and (ROOT / rel).is_file():
                        found.append(rel)
    return sorted(set(found))


# ----------------------------------------------------------------------------- CLI and includes
def cli_help():
    """The argparse help of `nnscratch` and of each subcommand, as Markdown."""
    from nnscratch import cli

    parser = cli.build_parser()
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width: fix it for the page
    try:
        parts = ["```text\n$ nnscratch --help\n" + parser.format_help().rstrip() + "\n```"]
        for action in parser._actions:  # argparse keeps subparsers here; no public accessor
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    parts.append(f"### `nnscratch {name}`\n\n```text\n$ nnscratch {name} --help\n"
                                 + sub.format_help().rstrip() + "\n```")
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return "\n\n".join(parts)


def include(relpath, to_root=""):
    """A repository file, headings one level down; its images are shown (copied under
    included/), its other relative links become plain text (they point into the repository)."""
    text = (ROOT / relpath).read_text()
    text = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)
    base = Path(relpath).parent

    def image(m):
        rel = (base / m.group(2)).as_posix()
        if re.match(r"[a-z]+:", m.group(2)) or not (ROOT / rel).is_file():
            return m.group(0)
        return f"![{m.group(1)}]({to_root}included/{rel})"

    def link(m):
        target = m.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return m.group(0)
        return f"{m.group(1)} (`{(base / target).as_posix()}`)"

    text = _IMAGE.sub(image, text)
    return re.sub(r"(?<!!)\[([^\]]*)\]\(([^)]+)\)", link, text)


# ----------------------------------------------------------------------------- notebooks
def _source_hash():
    h = hashlib.sha256()
    for path in sorted((ROOT / "nnscratch").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".npz", ".gz", ".json"):
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def execute(path, source_hash):
    """The notebook executed on small data (cached), as an nbformat object."""
    import time

    import nbformat

    book_bytes = path.read_bytes()
    key = hashlib.sha256(book_bytes + source_hash.encode()).hexdigest()[:20]
    cached = CACHE / f"{path.stem}-{key}.ipynb"
    mode = os.environ.get("NNSCRATCH_DOCS_EXECUTE", "1")
    if mode == "0":
        return nbformat.reads(book_bytes.decode(), as_version=4)
    if cached.exists() and mode != "force":
        return nbformat.read(cached, as_version=4)
    import nbclient

    env = {"NNSCRATCH_NOTEBOOK_SMALL": "1", "NNSCRATCH_NOTEBOOK_SOLUTIONS": "1",  # the exercises' reference answers
           "MPLBACKEND": "Agg", "NNSCRATCH_BACKEND": "numpy",
           "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = os.environ.get(var, "1")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        book = nbformat.reads(book_bytes.decode(), as_version=4)
        start = time.perf_counter()
        nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        TIMINGS[path.name] = time.perf_counter() - start
        log.info("executed %s in %.1f s", path.name, TIMINGS[path.name])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"{path.stem}-*.ipynb"):
        old.unlink()
    nbformat.write(book, cached)
    return book


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _clean_stream(text):
    text = _ANSI.sub("", text)
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]  # progress bars: last state
    return "\n".join(lines)


def _fence(text, lang=""):
    ticks = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def notebook_markdown(book, stem):
    """Markdown and {path: png bytes} for an executed notebook."""
    parts, images = [], {}
    for n, cell in enumerate(book.cells):
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        elif cell.cell_type == "code":
            if cell.source.strip():
                parts.append(_fence(cell.source, "python"))
            streams = []
            for k, out in enumerate(cell.get("outputs", [])):
                kind = out.get("output_type")
                if kind == "stream":
                    streams.append(_clean_stream(out.get("text", "")))
                    continue
                if streams:
                    parts.append('<div class="nn-output" markdown>\n\n' + _fence("".join(streams), "text") + "\n\n</div>")
                    streams = []
                if kind == "error":
                    raise RuntimeError(f"notebook {stem}: cell {n} raised {out.get('ename')}: {out.get('evalue')}")
                data = out.get("data", {})
                if "image/png" in data:
                    name = f"tutorials/{stem}_files/cell{n}_{k}.png"
                    images[name] = base64.b64decode(data["image/png"])
                    parts.append(f"![output of cell {n}]({stem}_files/{Path(name).name})")
                elif "text/plain" in data:
                    parts.append('<div class="nn-output" markdown>\n\n' + _fence(_clean_stream(data["text/plain"]), "text") + "\n\n</div>")
            if streams:
                parts.append('<div class="nn-output" markdown>\n\n' + _fence("".join(streams), "text") + "\n\n</div>")
    source = f"`notebooks/{stem}.ipynb`"
    header = (f'!!! info "Executed when the site was built"\n    This page is {source}, run top to bottom on '
              f"small data (`NNSCRATCH_NOTEBOOK_SMALL=1`) when the site was built. Open the notebook in "
              f"Jupyter to run it yourself on the full data.\n")
    body = "\n\n".join(parts)
    # the first heading is the title: the note goes after it
    m = re.search(r"^# .*$", body, flags=re.M)
    if m:
        body = body[:m.end()] + "\n\n" + header + body[m.end():]
    else:
        body = header + "\n\n" + body
    return body + "\n", images


def tutorials():
    if not NOTEBOOKS.is_dir():
        return []
    source_hash = _source_hash()
    out = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        book = execute(path, source_hash)
        content, images = notebook_markdown(book, path.stem)
        out.append((f"tutorials/{path.stem}.md", content, images))
    return out


def on_post_build(config):
    if TIMINGS:
        log.info("notebook execution: %s", ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()))
