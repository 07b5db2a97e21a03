"""One module per `mrstnet` subcommand.

Each module defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed arguments, returns an exit code), and an
integer ``ORDER`` that places it in ``mrstnet --help``. The CLI discovers the
modules itself, so adding a command never touches another file.

Two rules keep the commands alike:

- ``register`` imports nothing heavy (no torch, numpy, PyAV): ``mrstnet --help``
  builds every parser. ``func`` imports what it uses. A choice list that needs a
  heavy registry is checked in ``func`` instead, raising ValueError.
- ``func`` does not catch errors to print them: bad input raises (ValueError,
  OSError, the data layer's errors) and a missing optional extra raises
  ``mrstnet.extras.MissingExtraError``; ``mrstnet.cli.main`` turns either into
  one line ``mrstnet COMMAND: error: ...`` (exit 2, or 1 for a missing extra).
"""
