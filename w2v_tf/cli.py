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
from typing import Mapping, Sequence


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
