// Render the math on every page with the vendored KaTeX (no network). pymdownx.arithmatex and
// the docstring converter (docs/hooks/mathtext.py) wrap formulas in .arithmatex elements holding
// \( ... \) or \[ ... \]. Material's instant navigation is off, so one load event is enough;
// document$ is used when present so that instant loading keeps working if it is turned on.
(function () {
  function render() {
    document.querySelectorAll(".arithmatex").forEach(function (el) {
      if (el.dataset.nnRendered) return;
      renderMathInElement(el, {
        delimiters: [
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
        throwOnError: false,
        errorColor: "#cc0000",
      });
      el.dataset.nnRendered = "1";
    });
    document.body.dataset.nnMath = String(document.querySelectorAll(".katex").length);
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(render);
  } else {
    document.addEventListener("DOMContentLoaded", render);
  }
})();
