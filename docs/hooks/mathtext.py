"""Plain-text docstring math -> KaTeX: the ``Math:`` sections of nnscratch's docstrings, rendered.

The docstrings write their formulas as plain text that reads well in the source (``dW = x^T @ dz``,
``sum_{N,H_out,W_out} dz``, ``mu <- rho * mu``), laid out in columns: an optional label
(``forward:``), the formula, and a note (a shape such as ``(N, D_in)`` or a remark). This module
turns one such block into an HTML table whose formula parts are TeX for KaTeX (in
``<span class="arithmatex">\\(...\\)</span>``, the markup of pymdownx.arithmatex) and whose prose
stays prose. No docstring needs to be written for the renderer: the rules below recognise the
notation the engine already uses.

- Words are classified: identifiers with ``_``/digits, calls ``f(`` and indexing ``x[`` are math;
  English words (``the``, ``where``, ``drawn``) are text; short names (``lr``, ``col``, ``KH``)
  are math unless they sit between text words.
- Identifiers: ``x_pad`` -> x with subscript "pad", ``x_hat`` -> x-hat, ``mu`` -> Greek mu,
  ``negative_slope`` -> italic word, ``dL/dz`` -> a partial-derivative fraction.
- Operators: ``@`` (matrix product) -> juxtaposition, ``*`` -> centred dot, ``<-`` -> left
  arrow, ``sqrt(a)`` -> a radical, ``1e-7`` -> 10^-7.

``convert_block`` raises ``MathError`` for what it cannot convert (unbalanced brackets inside a
formula), which the docs build reports as a warning, and so fails under ``--strict``.
"""
from __future__ import annotations

import html
import re

__all__ = ["MathError", "convert_block", "find_math_blocks", "formula_to_tex", "line_to_html"]


class MathError(ValueError):
    """A Math line that the converter cannot turn into TeX."""


GREEK = {"alpha": r"\alpha", "beta": r"\beta", "gamma": r"\gamma", "delta": r"\delta",
         "epsilon": r"\epsilon", "eps": r"\epsilon", "mu": r"\mu", "sigma": r"\sigma", "rho": r"\rho",
         "lambda": r"\lambda", "theta": r"\theta", "tau": r"\tau", "eta": r"\eta"}
BUILTIN_FUNCS = {"max": r"\max", "min": r"\min", "exp": r"\exp", "log": r"\log", "tanh": r"\tanh"}
BIG_OPS = {"sum": r"\sum", "prod": r"\prod"}
FUNCS = {"pad", "crop", "col2im", "im2col", "mean", "softmax", "sigmoid", "clip", "onehot", "logsumexp",
         "concat", "sign", "reshape", "count", "Bernoulli", "relu", "var", "split", "sqrt"}
# words that may be a name in a formula (math) or a word in a sentence (text), decided by context
MATH_WORDS = {"mask", "rate", "momentum", "count", "axis", "mean", "sum", "max", "min", "log", "exp",
              "activation", "logits", "threshold", "inf", "dcol", "dbeta", "dgamma", "vhat", "onehot",
              "units", "filters", "den", "inc", "mom", "acc", "col", "pad", "lr", "eps", "var", "mu", "rho"} | set(GREEK)
STOP = {"see", "if", "else", "otherwise", "where", "the", "of", "on", "to", "by", "is", "are", "for", "and", "or",
        "with", "then", "from", "as", "at", "in", "so", "a", "an", "every", "all", "each", "not", "no",
        "be", "when", "only", "same", "it", "its", "that", "do", "we", "per", "over", "into", "than"}

_TOKEN = re.compile(r"""
    (?P<code>``[^`]+``|`[^`]+`|\bnn(?:\.[A-Za-z_]\w*)+|\b[A-Za-z_]\w*=(?:True|False|None|'\w+')(?![\w.]))
  | (?P<hyphen>\b[A-Za-z]{2,}(?:-[A-Za-z]{2,})+\b|\b[A-Za-z]+'s\b)
  | (?P<string>(?<![A-Za-z0-9])'[^'\s][^']*')
  | (?P<number>\d+(?:\.\d+)?(?:e-?\d+)?)
  | (?P<ident>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*(?:'(?=\())?)
  | (?P<sub>_(?:\{[^{}]*\}|[A-Za-z0-9]+))
  | (?P<ellipsis>\.\.\.)
  | (?P<op><-|->|<=|>=|!=|==|\+=|//|\*\*|[-+*/@=<>^|~!])
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<punct>[,;:.])
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)


class Tok:
    __slots__ = ("kind", "text", "cls")

    def __init__(self, kind, text):
        self.kind, self.text, self.cls = kind, text, None

    def __repr__(self):
        return f"{self.kind}:{self.text!r}:{self.cls}"


def tokenize(s):
    return [Tok(m.lastgroup, m.group()) for m in _TOKEN.finditer(s)]


# ----------------------------------------------------------------------------- text or math
def _classify(toks):
    """Mark each token 'T' (text) or 'M' (math)."""
    sig = [i for i, t in enumerate(toks) if t.kind != "space"]

    def nxt(i):  # the next token, spaces included
        return toks[i + 1] if i + 1 < len(toks) else None

    for i, t in enumerate(toks):
        if t.kind == "ident":
            word = t.text
            n = nxt(i)
            call = n is not None and (n.kind in ("open", "sub") and n.text[0] in "([_" or n.text == "^")
            if "." in word:  # x.reshape, col.reshape: attribute access
                t.cls = "M"
            elif not word.isalpha():  # x_pad, b1, f'
                t.cls = "A" if _is_wordy_identifier(word) and not call else "M"
            elif call:
                t.cls = "M"
            elif word.lower() in STOP:
                t.cls = "S"
                if len(word) == 1 and any(x is not None and x.kind == "op" for x in (_sig_near(toks, i, -1), _sig_near(toks, i, 1))):
                    t.cls = "M"  # 'a' in "a <- rho * a"
            elif word in MATH_WORDS or word.lower() in FUNCS or word in BUILTIN_FUNCS or word in BIG_OPS:
                t.cls = "A"
            elif len(word) == 1:
                t.cls = "M"
            elif word.isupper() or len(word) <= 3:
                t.cls = "A"
            else:
                t.cls = "T"
        elif t.kind in ("code", "hyphen"):
            t.cls = "T"
        elif t.kind == "string":
            t.cls = "A"
        elif t.kind in ("number", "sub", "ellipsis", "op", "open", "close"):
            t.cls = "M"
        elif t.kind == "punct" or (t.kind == "other" and t.text in "'\"`"):
            t.cls = "P"
        else:
            t.cls = "W" if t.kind == "space" else "M"

    def neighbours(k):
        """Previous and next significant tokens of significant index k, and whether the
        separation is only spaces/one punctuation mark."""
        return (toks[sig[k - 1]] if k > 0 else None), (toks[sig[k + 1]] if k + 1 < len(sig) else None)

    # runs of two or more stop words are text ("for every", "is not")
    for k, i in enumerate(sig):
        if toks[i].cls == "S":
            prev, nx = neighbours(k)
            if (prev is not None and prev.cls == "S") or (nx is not None and nx.cls == "S"):
                toks[i].cls = "T0"
    for t in toks:
        if t.cls == "T0":
            t.cls = "T"
    # spread text over ambiguous and stop words next to it (not across an operator)
    changed = True
    while changed:
        changed = False
        for k, i in enumerate(sig):
            t = toks[i]
            if t.cls not in ("A", "S"):
                continue
            prev, nx = neighbours(k)
            near_op = t.cls == "A" and any(x is not None and x.kind == "op" for x in (prev, nx))
            if near_op:
                continue
            textish = [x for x in (prev, nx) if x is not None and x.cls == "T"]
            across = []  # a text word across one comma/colon: "channels_last, kernel"
            for step in (-1, 1):
                j = k + step
                if 0 <= j < len(sig) and toks[sig[j]].cls == "P" and 0 <= j + step < len(sig):
                    if toks[sig[j + step]].cls == "T":
                        across.append(True)
            if textish or across:
                t.cls = "T"
                changed = True
    # a bracket group with only text inside is text; an operator between two text words is text
    _text_groups(toks)
    for k, i in enumerate(sig):
        t = toks[i]
        if t.kind == "op" and t.text in "-/" and 0 < k < len(sig) - 1:
            prev, nx = neighbours(k)
            if prev.cls == "T" and nx.cls == "T" and sig[k - 1] == i - 1 and sig[k + 1] == i + 1:
                t.cls = "T"
    for t in toks:
        if t.cls in ("A", "S"):
            t.cls = "M"
    # punctuation: math between math, text otherwise
    for k, i in enumerate(sig):
        t = toks[i]
        if t.cls == "P":
            prev, nx = neighbours(k)
            t.cls = "M" if (prev is not None and nx is not None and prev.cls == "M" and nx.cls == "M"
                            and t.text in ",:") else "T"
    return toks


def _sig_near(toks, i, step):
    j = i + step
    while 0 <= j < len(toks) and toks[j].kind == "space":
        j += step
    return toks[j] if 0 <= j < len(toks) else None


def _is_wordy_identifier(word):
    parts = word.split("_")
    return len(parts) > 1 and all(p.isalpha() and len(p) >= 3 for p in parts) and len(parts[0]) >= 4


def _text_groups(toks):
    """Bracket groups: only text inside -> all text; some text inside -> the brackets are text
    (so that every math run holds whole groups); unmatched brackets are text."""
    stack = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for i, t in enumerate(toks):
        if t.kind == "open":
            stack.append(i)
        elif t.kind == "close":
            if not stack or toks[stack[-1]].text != pairs[t.text]:
                t.cls = "T"
                continue
            j = stack.pop()
            inner = [x for x in toks[j + 1:i] if x.kind != "space"]
            if inner and all(x.cls in ("T", "S", "P") for x in inner) and any(x.cls == "T" for x in inner):
                for x in inner:
                    x.cls = "T"
                toks[j].cls = toks[i].cls = "T"
            elif any(x.cls == "T" for x in inner):
                toks[j].cls = toks[i].cls = "T"
    for j in stack:
        toks[j].cls = "T"


def segments(s):
    """Split a line into [('math'|'text', str)], keeping the original text of each run."""
    toks = _classify(tokenize(s))
    out = []
    for t in toks:
        cls = t.cls
        if cls == "W":
            if out:
                out[-1][1].append(t)
            continue
        kind = "text" if cls == "T" else "math"
        if out and out[-1][0] == kind:
            out[-1][1].append(t)
        else:
            out.append((kind, [t]))
    return [(kind, ts) for kind, ts in out if ts]


# ----------------------------------------------------------------------------- TeX
def ident_tex(name):
    if "." in name:  # x.reshape -> x.reshape in upright letters after the dot
        head, *attrs = name.split(".")
        return ident_tex(head) + "".join(r".\mathrm{" + a.replace("_", r"\_") + "}" for a in attrs)
    prime = ""
    if name.endswith("'"):
        name, prime = name[:-1], "'"
    if name in GREEK:
        return GREEK[name] + prime
    if name in BUILTIN_FUNCS:
        return BUILTIN_FUNCS[name] + prime
    if name in FUNCS and name != "sqrt":
        return r"\operatorname{" + name + "}" + prime
    if name in ("True", "False", "None"):
        return r"\text{" + name + "}"
    if name == "inf":
        return r"\infty"
    if name.endswith("_hat") or (name.endswith("hat") and len(name) == 4):
        base = name[:-4] if name.endswith("_hat") else name[:-3]
        if base.startswith("d") and len(base) == 2:
            return "d" + r"\hat{" + ident_tex(base[1]) + "}"
        return r"\hat{" + ident_tex(base) + "}" + prime
    parts = name.split("_")
    if _is_wordy_identifier(name) or len(parts) > 2 or (
            len(parts) == 2 and len(parts[0]) >= 2 and len(parts[1]) >= 3
            and not re.fullmatch(r"d[A-Za-z]|[A-Z]{1,3}|[A-Z][a-z]", parts[0])):
        return r"\mathit{" + name.replace("_", r"\_") + "}" + prime
    base, subs = parts[0], parts[1:]
    m = re.fullmatch(r"([A-Za-z])(\d+)", base)
    if m and not subs:
        return m.group(1) + "_{" + m.group(2) + "}" + prime
    if base in GREEK:
        tex = GREEK[base]
    elif len(base) == 1 or re.fullmatch(r"d[A-Za-z]", base) or re.fullmatch(r"[A-Z]{1,3}", base):
        tex = base
    elif re.fullmatch(r"[A-Z][a-z]", base):  # Hp -> H_p
        tex = base[0] + "_{" + base[1] + "}"
        if subs:
            return r"\mathit{" + name.replace("_", r"\_") + "}" + prime
    else:
        tex = r"\mathit{" + base + "}"
    if subs:
        sub = subs[0]
        if not sub:
            raise MathError(f"empty subscript in {name!r}")
        tex += "_{" + (sub if len(sub) <= 2 else r"\text{" + sub + "}") + "}"
    return tex + prime


def _number_tex(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)e(-?\d+)", text)
    if m:
        mant, exp = m.groups()
        return ("10" if mant == "1" else mant + r"\cdot 10") + "^{" + exp + "}"
    return text


_OPS = {"<-": r"\leftarrow ", "->": r"\rightarrow ", "<=": r"\le ", ">=": r"\ge ", "!=": r"\ne ", "==": "=",
        "+=": r"\mathrel{+}=", "//": r"\mathbin{/\!/}", "**": "^", "@": r"\, ", "*": r"\cdot ", "~": r"\sim ", "|": "|",
        "=": "=", "+": "+", "-": "-", "/": "/", "<": "<", ">": ">", "!": "!"}


def formula_to_tex(s):
    """TeX for one formula written in the docstrings' plain-text notation."""
    toks = [t for t in tokenize(s)]
    tex, pos = _tex_run(toks, 0, None)
    if pos != len(toks):
        raise MathError(f"unbalanced brackets in {s!r}")
    return tex.strip()


def _tex_run(toks, i, closer):
    """Convert tokens from i until the bracket `closer` (exclusive); return (tex, index after)."""
    out = []
    while i < len(toks):
        t = toks[i]
        if t.kind == "close":
            if closer is None:
                raise MathError(f"unexpected {t.text!r}")
            if t.text != closer:
                raise MathError(f"bracket {t.text!r} closes {_match_open(closer)!r}")
            return "".join(out), i
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.kind == "space":
            out.append(" ")
        elif t.kind == "ident":
            # dL/dz -> partial fraction
            if (t.text.startswith("d") and len(t.text) >= 2 and nxt is not None and nxt.text == "/"
                    and i + 2 < len(toks) and toks[i + 2].kind == "ident" and toks[i + 2].text.startswith("d")
                    and len(toks[i + 2].text) >= 2 and t.text[1].isalpha()):
                num, den = t.text[1:], toks[i + 2].text[1:]
                out.append(r"\frac{\partial " + ident_tex(num) + r"}{\partial " + ident_tex(den) + "}")
                i += 3
                continue
            if t.text == "sqrt" and nxt is not None and nxt.text == "(":
                inner, j = _tex_run(toks, i + 2, ")")
                out.append(r"\sqrt{" + inner.strip() + "}")
                i = j + 1
                continue
            if t.text.endswith("_") and t.text[:-1] in BIG_OPS | BUILTIN_FUNCS.keys() and nxt is not None and nxt.text == "{":
                inner, j = _tex_run(toks, i + 2, "}")
                op = BIG_OPS.get(t.text[:-1]) or BUILTIN_FUNCS[t.text[:-1]]
                out.append(op + "_{" + inner.strip() + "} ")
                i = j + 1
                continue
            name = t.text
            m = re.fullmatch(r"(sum|prod|max|min)_([A-Za-z0-9]{1,2}|[A-Z]+)", name)
            if m:
                op = BIG_OPS.get(m.group(1)) or BUILTIN_FUNCS[m.group(1)]
                out.append(op + "_{" + m.group(2) + "} ")
            elif name in BIG_OPS:
                out.append(BIG_OPS[name] + " " if nxt is None or nxt.text != "(" else r"\operatorname{" + name + "}")
            elif (name.lower() in STOP and len(name) > 1) or (name.isalpha() and len(name) >= 4 and name not in MATH_WORDS
                                          and name not in FUNCS and name not in BUILTIN_FUNCS
                                          and not (nxt is not None and nxt.text in "([")):
                out.append(r"\text{ " + name + " }")
            else:
                out.append(ident_tex(name))
        elif t.kind == "number":
            out.append(_number_tex(t.text))
        elif t.kind == "sub":
            body = t.text[1:]
            if body.startswith("{"):
                out.append("_{" + formula_to_tex(body[1:-1]) + "}")
            else:
                out.append("_{" + body + "}")
        elif t.kind == "op":
            if t.text == "^":
                if nxt is None:
                    raise MathError("'^' at the end of a formula")
                if nxt.text in "({":
                    inner, j = _tex_run(toks, i + 2, ")" if nxt.text == "(" else "}")
                    out.append("^{" + ("(" + inner.strip() + ")" if nxt.text == "(" else inner.strip()) + "}")
                    i = j + 1
                    continue
                if nxt.kind == "ident":
                    sup = r"\top" if nxt.text == "T" else ident_tex(nxt.text)
                else:
                    sup = _number_tex(nxt.text)
                out.append("^{" + sup + "}")
                i += 2
                continue
            prev = toks[i - 1] if i > 0 else None
            if (t.text == "*" and prev is not None and prev.kind == "ident"
                    and (nxt is None or nxt.text in ",)")):
                out.append("^{*}")  # (i*, j*): a starred index
            elif t.text == "-" and nxt is not None and nxt.text == "inf":
                out.append(r"-\infty")
                i += 2
                continue
            elif t.text == "*" and (prev is None or prev.text in "(," or (prev.kind == "space" and i > 1 and toks[i - 2].text in "(,")):
                out.append("{*}")  # *target_shape: unpacking
            elif t.text in ("=", "<-", "->", "<=", ">=", "!=", "==", "+=", "~", "<", ">"):
                out.append(" " + _OPS[t.text] + " ")
            else:
                out.append(_OPS[t.text])
        elif t.kind == "open":
            close = {"(": ")", "[": "]", "{": "}"}[t.text]
            inner, j = _tex_run(toks, i + 1, close)
            if t.text == "{":
                out.append(r"\{" + inner + r"\}")
            else:
                out.append(t.text + inner + close)
            i = j + 1
            continue
        elif t.kind == "punct":
            out.append({",": ",", ";": r";\;", ":": "{:}", ".": "."}[t.text])
        elif t.kind == "ellipsis":
            out.append(r"\ldots")
        elif t.kind == "string":
            out.append(r"\text{" + t.text + "}")
        elif t.kind == "hyphen":
            out.append(r"\text{" + t.text + "}")
        elif t.kind == "code":
            out.append(r"\texttt{" + t.text.strip("`").replace("_", r"\_") + "}")
        else:
            raise MathError(f"unexpected character {t.text!r}")
        i += 1
    if closer is not None:
        raise MathError(f"missing {closer!r}")
    return "".join(out), i


def _match_open(closer):
    return {")": "(", "]": "[", "}": "{"}[closer]


def _math_span(tex):
    return '<span class="arithmatex">\\(' + html.escape(tex, quote=False) + "\\)</span>"


def _text_html(text):
    out = []
    for m in re.finditer(r"``([^`]+)``|`([^`]+)`|([^`]+)", text):
        code = m.group(1) or m.group(2)
        out.append(f"<code>{html.escape(code)}</code>" if code else html.escape(m.group(3), quote=False))
    return "".join(out)


def line_to_html(s):
    """HTML for a piece of a Math line: text stays text, formulas become KaTeX spans."""
    parts = []
    for kind, ts in segments(s):
        src = "".join(t.text for t in ts)
        if kind == "math":
            stripped = src.strip()
            lead = src[:len(src) - len(src.lstrip())]
            trail = src[len(src.rstrip()):]
            parts.append(lead + _math_span(formula_to_tex(stripped)) + trail)
        else:
            parts.append(_text_html(src))
    return "".join(parts).strip()


# ----------------------------------------------------------------------------- a whole block
_LABEL = re.compile(r"^(?P<label>[A-Za-z][\w]*(?:\s*(?:==|=|>|<)\s*[\w.]+)?(?:\s\((?:[^()]|\([^()]*\))*\))?):(?=\s|$)")
_GAP = re.compile(r" {2,}")
_OP_RE = r"(?:<-|->|\+=|==|[=*+@/~]|-(?= ))"


def _squeeze_operators(body):
    """Alignment spaces next to an operator are not gaps: ``mu    = mean(x)`` -> ``mu = mean(x)``."""
    body = re.sub(r" {2,}(?=" + _OP_RE + r"(?: |$))", " ", body)
    return re.sub(r"(?<= )(" + _OP_RE + r") {2,}", r"\1 ", body)


def _split_body(body):
    """Formula pieces and note of a line body: the note is what follows a gap of two or more
    spaces once the formula holds a relation (``z = x @ W + b      (N, D_in)``); pieces joined
    by ``;``/``,`` or an ``else`` are separate formulas of the same cell."""
    body = _squeeze_operators(body)
    chunks = _GAP.split(body)
    starts, pos = [], 0
    for chunk in chunks:
        pos = body.index(chunk, pos)
        starts.append(pos)
        pos += len(chunk)
    pieces = [chunks[0]]
    for k in range(1, len(chunks)):
        chunk = chunks[k]
        head = " ".join(pieces)
        joins = (head.rstrip().endswith((";", ",")) or chunk.startswith(("else", "otherwise"))
                 or pieces[-1].strip() in ("else", "otherwise"))
        has_relation = re.search(r"<-|(?<![<>!=+])=(?!=)|~", head) is not None
        if not joins and has_relation:
            return pieces, " ".join(chunks[k:]), starts[k]
        pieces.append(chunk)
    return pieces, "", None


def _cell(pieces):
    return "&ensp;".join(line_to_html(p) for p in pieces if p.strip())


def convert_block(title, lines):
    """HTML (one line) for a Math block: ``title`` is what follows ``Math`` on its line (e.g.
    ``' (training=True)'``), ``lines`` the block's lines as written."""
    rows = []  # [label, pieces, note, note_col, open_parens, depth]
    raw = [ln.rstrip() for ln in lines if ln.strip()]
    if not raw:
        raise MathError("empty Math block")
    indent0 = min(len(ln) - len(ln.lstrip()) for ln in raw)
    label_indents = []
    for ln in raw:
        indent = len(ln) - len(ln.lstrip())
        text = ln.strip()
        if rows and rows[-1][2] and rows[-1][4] > 0 and rows[-1][3] is not None and indent >= rows[-1][3] - 2:
            rows[-1][2] += " " + text  # the note's bracket continues on this line
            rows[-1][4] += text.count("(") - text.count(")")
            continue
        label, depth = "", 0
        m = _LABEL.match(text)
        if m:
            label, text = m.group("label"), text[m.end():]
            while label_indents and label_indents[-1] >= indent:
                label_indents.pop()
            depth = len(label_indents)
            label_indents.append(indent)
        lead = indent + (m.end() + len(text) - len(text.lstrip()) if m else 0)
        pieces, note, note_start = _split_body(text.strip())
        note_col = lead + note_start if note_start is not None else None
        rows.append([label, pieces, note, note_col, note.count("(") - note.count(")"), depth])
    out = ['<div class="nn-math"><table class="nn-math-table">']
    out.append("<caption>Math" + (" " + line_to_html(title.strip()) if title.strip() else "") + "</caption>")
    for label, pieces, note, _, _, depth in rows:
        attrs = f' class="nn-math-depth{depth}"' if depth else ""
        if label and not any(p.strip() for p in pieces) and not note:
            out.append(f'<tr class="nn-math-head"><th colspan="3"{attrs}>{_label_html(label)}</th></tr>')
            continue
        out.append(f"<tr><th{attrs}>{_label_html(label)}</th><td>{_cell(pieces)}</td>"
                   f'<td class="nn-math-note">{line_to_html(note) if note else ""}</td></tr>')
    out.append("</table></div>")
    return "".join(out)


def _label_html(label):
    if not label:
        return ""
    if re.fullmatch(r"\w+=(True|False|None|\w+)", label):
        return f"<code>{html.escape(label)}</code>"
    return line_to_html(label)


# ----------------------------------------------------------------------------- docstrings
_MATH_HEAD = re.compile(r"^(?P<indent>[ \t]*)Math\b(?P<title>[^:\n]*(?:\([^)\n]*\)[^:\n]*)*):(?P<rest>.*)$")
_SECTION = re.compile(r"^[A-Z][\w/ ]{0,25}:(\s|$)")


def find_math_blocks(lines):
    """Yield (start, end, title, block_lines) for each Math block in a docstring's lines."""
    i = 0
    while i < len(lines):
        m = _MATH_HEAD.match(lines[i])
        if not m:
            i += 1
            continue
        base = len(m.group("indent"))
        title, rest = m.group("title"), m.group("rest")
        block = [" " * (base + 4) + rest.strip()] if rest.strip() else []
        j = i + 1
        while j < len(lines):
            ln = lines[j]
            if not ln.strip():
                # a blank line ends the block unless it continues indented
                k = j + 1
                if k < len(lines) and lines[k].strip() and len(lines[k]) - len(lines[k].lstrip()) > base and not rest.strip():
                    j += 1
                    continue
                break
            ind = len(ln) - len(ln.lstrip())
            if ind > base:
                block.append(ln)
            elif rest.strip() and not _SECTION.match(ln.strip()):
                block.append(" " * (base + 4) + ln.strip())  # a one-line Math that wraps flush left
            else:
                break
            j += 1
        yield i, j, title, block
        i = j
