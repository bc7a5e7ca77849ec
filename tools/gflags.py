"""Caffe's binaries' command lines and logs: gflags' flag forms and glog's
line format, shared by `caffe` and the tools (convert_imageset, ...).

Flags: `-name value`, `-name=value`, `--name value`, `--name=value`; a
boolean also as `-name` alone (true), `-noname` (false) or `-name=false`.
Everything else is a positional argument, in order. Lines go to stderr as
glog writes them (I1202 16:21:23.123456 pid file] message), so that
Caffe's log parsers (tools/extra/parse_log.py) read them.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime

from common.errors import FCNError

TRUE, FALSE = {"true", "1", "yes", "t", "y"}, {"false", "0", "no", "f", "n"}


def parse(argv: list[str], flags: dict[str, tuple]) -> tuple[list[str], dict]:
    """(positional arguments, {flag: value} with a "given" set) of `argv`,
    for flags {name: (default, type)}; unknown flags are errors."""
    values = {name: default for name, (default, _) in flags.items()}
    given: set[str] = set()
    positional: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("-") or len(token) == 1:
            positional.append(token)
            i += 1
            continue
        name, eq, value = token.lstrip("-").partition("=")
        kind = flags.get(name, (None, None))[1]
        if kind is None and name.startswith("no") and flags.get(name[2:], (None, None))[1] is bool and not eq:
            name, kind, eq, value = name[2:], bool, "=", "false"
        if kind is None:
            raise FCNError(f"unknown command line flag '{name}'")
        if kind is bool:
            if eq and value.lower() not in TRUE | FALSE:
                raise FCNError(f"flag '{name}': {value!r} is not true or false")
            values[name] = not eq or value.lower() in TRUE
        else:
            if not eq:
                if i + 1 >= len(argv):
                    raise FCNError(f"flag '{name}' is missing its value")
                i += 1
                value = argv[i]
            try:
                values[name] = kind(value)
            except ValueError:
                raise FCNError(f"flag '{name}': {value!r} is not a number") from None
        given.add(name)
        i += 1
    values["given"] = given
    return positional, values


def glog(source: str):
    """log(line) writing glog's INFO lines from `source` to stderr."""
    pid = os.getpid()

    def log(line):
        now = datetime.now()
        for part in str(line).splitlines() or [""]:
            print(f"I{now:%m%d %H:%M:%S.%f} {pid} {source}] {part}", file=sys.stderr, flush=True)
    return log


def run_tool(name: str, main, argv: list[str] | None = None) -> int:
    """Runs a tool's main(argv): bad input is one line on stderr and exit 2;
    a closed pipe ends quietly (141)."""
    from tools.cli import closed_pipe
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = main(argv) or 0
        sys.stdout.flush()
        return code
    except FCNError as err:
        print(f"{name}: error: {err}", file=sys.stderr, flush=True)
        return 2
    except BrokenPipeError:
        return closed_pipe()
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
