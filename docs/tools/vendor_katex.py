"""Vendor the few KaTeX files the site needs into docs/assets/katex/ (run once per KaTeX upgrade).

    python docs/tools/vendor_katex.py            # uses `npm pack katex@VERSION` (the npm registry)
    python docs/tools/vendor_katex.py --tarball katex-0.16.47.tgz

Only katex.min.js, contrib/auto-render.min.js, katex.min.css and the .woff2 fonts are kept (every
browser that runs the site reads woff2), and the stylesheet is rewritten to reference only those,
so that the committed copy stays about 600 kB and the site needs no network. The tarball's sha512
is checked against the pinned one below.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.16.47"

INTEGRITY_FILE = "INTEGRITY"
DEST = Path(__file__).resolve().parents[1] / "assets" / "katex"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", help="a katex-X.Y.Z.tgz already downloaded (default: npm pack)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.tarball:
            tgz = Path(args.tarball)
        else:
            subprocess.run(["npm", "pack", f"katex@{VERSION}", "--silent"], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL)
            tgz = Path(tmp) / f"katex-{VERSION}.tgz"
        data = tgz.read_bytes()
        integrity = _integrity(data)
        pinned_file = DEST / INTEGRITY_FILE
        pinned = pinned_file.read_text().split() if pinned_file.exists() else None
        if pinned and pinned[0] == f"katex-{VERSION}.tgz" and pinned[1] != integrity:
            sys.exit(f"katex {VERSION}: integrity {integrity} differs from the pinned {pinned[1]}")
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        dist = Path(tmp) / "package" / "dist"
        if DEST.exists():
            shutil.rmtree(DEST)
        (DEST / "fonts").mkdir(parents=True)
        for name in ("katex.min.js", "contrib/auto-render.min.js"):
            shutil.copy(dist / name, DEST / Path(name).name)
        for font in sorted((dist / "fonts").glob("*.woff2")):
            shutil.copy(font, DEST / "fonts" / font.name)
        css = (dist / "katex.min.css").read_text()
        # keep only the woff2 source of each @font-face
        css = re.sub(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)', "", css)
        (DEST / "katex.min.css").write_text(css)
        shutil.copy(Path(tmp) / "package" / "LICENSE", DEST / "LICENSE")
        (DEST / INTEGRITY_FILE).write_text(f"katex-{VERSION}.tgz {integrity}\n")
    print(f"vendored KaTeX {VERSION} into {DEST}")


if __name__ == "__main__":
    main()
