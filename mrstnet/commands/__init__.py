"""One module per `mrstnet` subcommand.

Each module defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed arguments, returns an exit code), and an
integer ``ORDER`` that places it in ``mrstnet --help``. The CLI discovers the
modules itself, so adding a command never touches another file.
"""
