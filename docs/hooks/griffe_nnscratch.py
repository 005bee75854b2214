"""Griffe extension for the docs: nnscratch's plain-text docstrings, made ready for Markdown.

Runs on every object griffe loads, before mkdocstrings parses the docstring:

1. each ``Math:`` block becomes an HTML table of KaTeX formulas (``mathtext.convert_block``);
2. outside code, ``*``, ``<`` and ``&`` are escaped so that ``N*H_out*W_out`` is not taken for
   emphasis, and each source line ends with a Markdown hard break, so that the layout of
   ``Input shape:``/``Cache:`` lines survives (the docstrings are laid out as plain text);
3. classes and module-level functions get a line linking to their source page (inside the site)
   and, for layers, losses, optimizers and schedules, to their row of the TF-parity report.

A Math line the converter cannot handle is reported with ``logger.warning``, which fails
``mkdocs build --strict``; ``FAILURES`` keeps the list for the tests.
"""
from __future__ import annotations

import ast
import logging
import re
import sys
from pathlib import Path

import griffe

sys.path.insert(0, str(Path(__file__).parent))
import mathtext  # noqa: E402
import parity  # noqa: E402

logger = logging.getLogger("mkdocs.plugins.nnscratch")
FAILURES: list[str] = []
ROOT = Path(__file__).resolve().parents[2]

_CODE_FENCE = re.compile(r"^\s*(```|~~~)")
_SECTION_HEADS = ("Args:", "Arguments:", "Parameters:", "Returns:", "Raises:", "Yields:", "Examples:",
                  "Example:", "Attributes:", "Note:", "Notes:", "Warning:", "Warnings:")


def source_page(relpath: str) -> str:
    """The site page (Markdown path under docs/) that shows the source file relpath."""
    return f"source/{relpath}.md"


def _escape_text(line: str) -> str:
    """Escape Markdown emphasis and raw-HTML characters outside inline code (a leading ``* ``
    bullet stays a bullet)."""
    m = re.match(r"(\s*[*-] )(.*)$", line)
    if m:
        return m.group(1) + _escape_text(m.group(2))
    out = []
    for m in re.finditer(r"(``[^`]+``|`[^`]+`)|([^`]+|`)", line):
        if m.group(1):
            out.append(m.group(1))
        else:
            out.append(m.group(2).replace("&", "&amp;").replace("<", "&lt;").replace("*", r"\*")
                       .replace("[", r"\[").replace("]", r"\]"))
    return "".join(out)


def prepare_docstring(text: str, where: str) -> str:
    """The Markdown that mkdocstrings should render for a plain-text docstring."""
    lines = text.split("\n")
    blocks = list(mathtext.find_math_blocks(lines))
    out, i = [], 0
    for start, end, title, block in blocks:
        out.extend(_plain_lines(lines[i:start]))
        try:
            html = mathtext.convert_block(title, block)
        except mathtext.MathError as exc:
            FAILURES.append(f"{where}: {exc}")
            logger.warning("nnscratch docs: the Math block of %s does not render: %s", where, exc)
            html = "<pre>" + "\n".join(lines[start:end]).replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
        indent = re.match(r"\s*", lines[start]).group()
        out.extend(["", indent + html, ""])
        i = end
    out.extend(_plain_lines(lines[i:]))
    return "\n".join(out)


def _plain_lines(lines):
    out, in_fence, in_code = [], False, False
    prev_blank = True
    for k, line in enumerate(lines):
        stripped = line.strip()
        if _CODE_FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if stripped.startswith((">>>", "...")) or (prev_blank and line.startswith("    ") and not out_is_section(out)):
            in_code = True
        elif not stripped:
            in_code = False
        if in_code or not stripped:
            out.append(line)
        else:
            nxt = lines[k + 1] if k + 1 < len(lines) else ""
            # a line break of the source is kept where both lines start a line of their own (at
            # the docstring's left margin): "Input shape: ..." then "Output shape: ..."; wrapped
            # prose inside an Args entry (indented) flows as one paragraph
            hard = (nxt.strip() and not nxt[:1].isspace()
                    and (not line[:1].isspace() or re.match(r"[A-Z][\w /]{0,25}:", nxt))
                    and not stripped.endswith(":") and stripped not in _SECTION_HEADS)
            out.append(_escape_text(line) + ("  " if hard else ""))
        prev_blank = not stripped
    return out


def out_is_section(out):
    """True when the last non-blank line is a Google section head (its block is indented)."""
    for line in reversed(out):
        if line.strip():
            return line.strip().endswith(":")
    return False


class NnscratchDocstrings(griffe.Extension):
    def on_module_members(self, *, node, mod, **kwargs):
        """``A, B = X, Y`` at module level (``GlobalAvgPool2D, GlobalMaxPool2D = ...``) is not
        seen by griffe's visitor: register each exported name as an alias of its value."""
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            return
        for stmt in body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Tuple) and isinstance(stmt.value, ast.Tuple)):
                continue
            for target, value in zip(stmt.targets[0].elts, stmt.value.elts):
                if (isinstance(target, ast.Name) and isinstance(value, ast.Name)
                        and target.id not in mod.members and value.id in mod.members):
                    source = mod.members[value.id]
                    path = source.target_path if source.is_alias else source.path
                    mod.set_member(target.id, griffe.Alias(target.id, path, parent=mod,
                                                           lineno=stmt.lineno, endlineno=stmt.end_lineno))

    def on_object(self, *, obj, **kwargs):
        if obj.is_alias or obj.docstring is None and not (obj.is_class or obj.is_function or obj.is_module):
            return
        links = self._links(obj)
        if obj.docstring is None:
            if links:
                obj.docstring = griffe.Docstring(links, parent=obj)
            return
        text = prepare_docstring(obj.docstring.value, obj.path)
        if links:
            text = _insert_links(text, links)
        obj.docstring.value = text

    def _links(self, obj):
        if not (obj.is_class or obj.is_module or (obj.is_function and obj.parent is not None and obj.parent.is_module)):
            return ""
        try:
            rel = Path(obj.filepath).resolve().relative_to(ROOT).as_posix()
        except (ValueError, TypeError):
            return ""
        page = source_page(rel)
        anchor = f"#__codelineno-0-{obj.lineno}" if obj.lineno and not obj.is_module else ""
        # API pages live at api/<module>.md, so the source pages are one level up
        parts = [f'<span class="nn-source">Source: [`{rel}`' + (f", line {obj.lineno}" if anchor else "")
                 + f"](../{page}{anchor})</span>"]
        if obj.is_class:
            status = parity.status_for(obj)
            if status:
                parts.append(f'<span class="nn-parity">TF parity: [{status}](../parity-report.md)</span>')
        return " · ".join(parts)


def _insert_links(text: str, links: str) -> str:
    """The links go after the summary line (the first paragraph)."""
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if not line.strip():
            return "\n".join(lines[:k] + ["", links] + lines[k:])
    return "\n".join(lines + ["", links])
