"""The teaching subcommands of ``nnscratch``: ``exercise`` and ``explain``.

    nnscratch exercise list
    nnscratch exercise start conv2d [DIR]          # DIR/conv2d.py + DIR/README_conv2d.md
    nnscratch exercise check conv2d.py [--no-tf]   # exit status 0 only when everything passes
    nnscratch explain --model lenet --out step.html

``explain`` records one training step of a preset model on a batch of the shipped
Fashion-MNIST sample (``nn.debug.trace``) and writes the self-contained HTML page of it.
``cli.py`` only calls ``add_parsers(sub)``; everything else lives here.
"""
from __future__ import annotations

import os

import nnscratch as nn
from nnscratch import exercises, presets
from nnscratch.datasets import fashion_mnist


def cmd_exercise_list(args):
    rows = exercises.list_exercises()
    width = max(len(n) for n, _ in rows)
    for name, title in rows:
        print(f"{name.ljust(width)}  {title}")
    return 0


def cmd_exercise_start(args):
    path = exercises.start(args.name, args.dir, overwrite=args.force)
    folder = os.path.dirname(path) or "."
    print(f"wrote {path} and {os.path.join(folder, 'README_' + os.path.basename(path)[:-3] + '.md')}")
    print(f"fill in the NotImplementedError lines, then: nnscratch exercise check {path}")
    return 0


def cmd_exercise_check(args):
    tf = False if args.no_tf else ("auto" if not args.tf else True)
    result = exercises.check(args.file, exercise=args.exercise, tf=tf, train=not args.no_train)
    print(result.report())
    return 0 if result.passed else 1


def cmd_explain(args):
    nn.utils.set_random_seed(args.seed)
    if args.model not in presets.PRESETS:
        raise ValueError(f"explain: unknown model {args.model!r}; choose one of {', '.join(presets.PRESETS)}")
    (x, y), _ = fashion_mnist.load_data(source="sample")
    model, compile_kwargs, _ = presets.get(args.model)()
    model.compile(**compile_kwargs)
    xb = presets.prepare_images(x[:args.batch_size], presets.LAYOUTS[args.model])
    yb = presets.prepare_labels(y[:args.batch_size], args.model in presets.ONE_HOT)
    with nn.debug.trace(model) as tr:
        model.train_on_batch(xb, yb)
    tr.save_html(args.out, title=f"nnscratch: one training step of {args.model}")
    print(f"wrote {args.out} ({os.path.getsize(args.out) // 1024} KiB): open it in a browser, no server needed")
    return 0


def add_parsers(sub):
    """Add ``exercise`` and ``explain`` to the ``nnscratch`` parser's subparsers."""
    ex = sub.add_parser("exercise", help="backprop exercises that grade themselves (list, start, check)")
    ex_sub = ex.add_subparsers(dest="exercise_command", required=True, metavar="ACTION")
    p = ex_sub.add_parser("list", help="the exercises")
    p.set_defaults(func=cmd_exercise_list, verbose=False)
    p = ex_sub.add_parser("start", help="write a student file generated from nnscratch's own class")
    p.add_argument("name", help="an exercise (see 'nnscratch exercise list'), e.g. conv2d")
    p.add_argument("dir", nargs="?", default=".", help="where to write it (default: the current directory)")
    p.add_argument("--force", action="store_true", help="overwrite an existing student file")
    p.set_defaults(func=cmd_exercise_start, verbose=False)
    p = ex_sub.add_parser("check", help="grade a student file (exit status 0 only when everything passes)")
    p.add_argument("file", help="the student's .py file")
    p.add_argument("--exercise", default=None, help="the exercise, when the file does not say (EXERCISE = ...)")
    p.add_argument("--no-tf", action="store_true", help="skip the TensorFlow parity check")
    p.add_argument("--tf", action="store_true", help="require the TensorFlow parity check")
    p.add_argument("--no-train", action="store_true", help="skip the training check")
    p.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    p.set_defaults(func=cmd_exercise_check)

    p = sub.add_parser("explain", help="write a self-contained HTML page of one training step")
    p.add_argument("--model", default="lenet", help=f"a preset ({', '.join(presets.PRESETS)}; default lenet)")
    p.add_argument("--out", default="step.html", help="the HTML file to write (default step.html)")
    p.add_argument("--batch-size", type=int, default=16, help="images in the recorded batch (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="tracebacks on errors")
    p.set_defaults(func=cmd_explain)

