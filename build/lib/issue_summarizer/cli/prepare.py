"""`prepare`: clean, tokenize, split and encode a data file into arrays, vocabularies and length statistics."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from issue_summarizer.cli.arguments import add_data_arguments, load_data, positive_int
from issue_summarizer.config import CONFIGURATIONS, DEFAULT_CONFIGURATION

MODEL_FILE = "model.keras"
# config.py reads no TensorFlow, so the names come from the one list `train` accepts.
CONFIGURATION_HELP = f"named configuration: {', '.join(CONFIGURATIONS)} (default: {DEFAULT_CONFIGURATION})"


def add_parser(commands) -> None:
    parser = commands.add_parser("prepare", help="clean, tokenize, split and encode a data file")
    add_data_arguments(parser, "--data")
    parser.add_argument("--out", required=True, type=Path, help="directory for arrays, vocabularies and stats")
    parser.add_argument("--config", choices=CONFIGURATIONS, metavar="NAME", help=CONFIGURATION_HELP)
    parser.add_argument("--workers", type=positive_int, help="processes for tokenizing (default: all cores)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from issue_summarizer.config import named_configuration
    from issue_summarizer.data.prepare import prepare, save_prepared, summary_lines

    config = named_configuration(args.config or DEFAULT_CONFIGURATION)
    if (args.out / MODEL_FILE).exists():
        # prepare writes its own config.json and vocabularies, which would then no longer
        # describe the model beside them; `train` replaces them only together with the model.
        raise ValueError(
            f"{args.out}: holds a trained model ({MODEL_FILE}), whose config.json and vocabularies prepare would "
            "replace; choose another --out"
        )
    if args.out.exists() and not args.out.is_dir():
        # Checked before the data is read and prepared, which can take minutes.
        raise ValueError(f"{args.out}: a file, not a directory; --out names the directory to write")
    loaded = load_data(args, require_title=True)
    started = time.perf_counter()
    prepared = prepare(loaded, config, workers=args.workers)
    save_prepared(prepared, args.out)
    for line in summary_lines(prepared, loaded):
        print(line)
    print(f"prepared in {time.perf_counter() - started:.1f} s; wrote {args.out}")
