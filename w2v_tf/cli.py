"""A tiny sub-command dispatcher shared by `python -m w2v_tf` and `python -m recall_models`.

Each sub-command lives in its own module, which defines

    HELP = "one line shown in --help"
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def main(args: argparse.Namespace) -> int: ...

and is registered by name in the package's `__main__.py`. Modules are imported only when
their command runs, so `--help` stays fast and a missing optional piece never breaks the rest.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probes on a CPU machine, oneDNN notes) is not for
# our users; Python-level errors still surface as exceptions. Set it to 0 to see everything.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import re
import tempfile
from typing import Mapping, Sequence

# What TensorFlow 2.21 prints on import before its logging is set up, which
# TF_CPP_MIN_LOG_LEVEL no longer silences: information lines (oneDNN, CUDA probes on a CPU
# machine, CPU instructions) and the notice that precedes them. Warnings and errors stay.
_IMPORT_CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|I\d{4} [\d:.]+ +\d+ [\w.]+\.cc:\d+\] .*|To enable the following "
    r"instructions: .*in other operations, rebuild TensorFlow with the appropriate compiler "
    r"flags\.)$")


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its start-up information lines dropped from stderr (the
    commands call it, and so do the benchmarks and examples before they import TensorFlow).

    Only with TF_CPP_MIN_LOG_LEVEL=3 (our default); every other line, and everything when the
    import fails, is written back.
    """
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        failed = True
        try:
            import tensorflow  # noqa: F401
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = [line for line in lines if failed or not _IMPORT_CHATTER.match(line.rstrip())]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def run(prog: str, description: str, commands: Mapping[str, str],
        argv: Sequence[str] | None = None) -> int:
    """Parses `argv` and runs the chosen command's `main`, returning its exit code."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    available = {name: mod for name, mod in commands.items()
                 if importlib.util.find_spec(mod) is not None}
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in available:
        # Import only the command that runs (each may pull in TensorFlow).
        available = {argv[0]: available[argv[0]]}
        if not {"-h", "--help"} & set(argv[1:]):   # help is answered without TensorFlow
            import_tensorflow_quietly()
    modules = {}
    for name, mod_name in available.items():
        module = importlib.import_module(mod_name)
        modules[name] = module
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(modules[args.command].main(args) or 0)


def main_entry(prog: str, description: str, commands: Mapping[str, str]) -> None:
    sys.exit(run(prog, description, commands))
