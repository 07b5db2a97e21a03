"""The `mrstnet` command line: discovers the subcommands in `mrstnet.commands`.

Every command fails the same way, in one line on stderr:

- a user error (a missing file, a bad option value, an unreadable dataset):
  `mrstnet COMMAND: error: ...`, exit status 2 (as argparse's own usage errors);
- a missing optional extra (`mrstnet.extras.MissingExtraError`): the same line, naming
  the extra and its `pip install 'mrstnet[EXTRA]'`, exit status 1.

`MRSTNET_DEBUG=1` shows the traceback instead. Anything else is a bug and keeps its
traceback. Building the parser imports no torch: `mrstnet --help` starts at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from mrstnet import __version__, commands
from mrstnet.extras import MissingExtraError

USER_ERROR, MISSING_EXTRA = 2, 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrstnet",
        description="MRST / MRST-Net action recognition: models, data, training, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"mrstnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    ]
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.register(sub)
    _name_commands(parser)
    return parser


def _name_commands(parser: argparse.ArgumentParser) -> None:
    """Each (sub)command parser records its name (`mrstnet data check`) for error lines: the
    innermost parser's default wins when the arguments are parsed."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.set_defaults(command_name=command.prog)
                _name_commands(command)


def user_errors() -> tuple[type[BaseException], ...]:
    """What bad input raises (as opposed to a bug): reported in one line, not a traceback."""
    from mrstnet.data import SplitFileError, TooManyBadVideosError, VideoDecodeError

    return (
        # a missing --root, --checkpoint or annotation file (FileNotFoundError), a RUN_DIR
        # that already holds a run (FileExistsError), an output that cannot be written
        OSError,
        ValueError,  # bad option or config values, unknown names; SplitFileError is one
        SplitFileError,
        VideoDecodeError,  # a video that cannot be read (visualize, strict datasets)
        TooManyBadVideosError,
    )


def error_message(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    if "Original Traceback" in text:  # re-raised from a DataLoader worker: its last line
        last = text.splitlines()[-1]
        text = last.partition(": ")[2] or last
    return text


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return USER_ERROR
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as e:
        code = MISSING_EXTRA if isinstance(e, MissingExtraError) else USER_ERROR
        if code == USER_ERROR and not isinstance(e, user_errors()):
            raise  # a bug: its traceback
        if os.environ.get("MRSTNET_DEBUG", "0") not in ("", "0"):
            raise
        report(getattr(args, "command_name", "mrstnet"), e)
    dist = process_group()
    if dist is not None:
        if code == 0:  # every process got here: leave together (after a failure the
            dist.destroy_process_group()  # others may be inside a collective: just go)
        exit_now(code)
    return code


def report(command: str, e: BaseException) -> None:
    """The one line of a failed command on stderr."""
    # under torchrun every process that fails says so; torchrun stops the others and
    # exits non-zero
    world = int(os.environ.get("WORLD_SIZE", "1"))
    where = f" (rank {os.environ.get('RANK', '?')})" if world > 1 else ""
    print(f"{command}: error{where}: {error_message(e)}", file=sys.stderr)


def process_group():
    """torch.distributed if this process joined a torchrun process group, else None."""
    dist = sys.modules.get("torch.distributed")  # never import torch just for this
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist
    return None


def exit_now(code: int) -> None:
    """End a process that ran in a process group, skipping the interpreter's teardown.

    With torch 2.13, a process that used DistributedDataParallel over gloo sometimes aborts
    *after* its work, while the interpreter tears down ("terminate called without an
    active exception", SIGABRT; about 1 run in 8 on the dev machine, even after
    destroy_process_group): torchrun then reports the run failed. Everything is written
    and closed by now, so flush what is buffered and leave (torchrun sees `code`)."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
