"""`python -m mrstnet ...` and `torchrun -m mrstnet ...` enter here."""

from mrstnet.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
