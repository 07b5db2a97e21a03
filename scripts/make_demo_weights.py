"""Turn a demo run's best.pt into the shipped ``mrstnet/weights/demo.pt``.

    python scripts/make_demo_weights.py runs/demo/best.pt [--out mrstnet/weights/demo.pt]

Keeps the model config, state_dict, class names and clip geometry; drops the optimizer,
scheduler, RNG state and preset (mrstnet.deploy.weights).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, run from a clone

from mrstnet.deploy.weights import DEMO, make_demo_weights, weights_info  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="a training checkpoint, e.g. RUN_DIR/best.pt")
    p.add_argument("--out", default=str(DEMO))
    args = p.parse_args(argv)
    path = make_demo_weights(args.checkpoint, args.out)
    info = weights_info(path)
    print(
        f"wrote {path}: {info['arch']} ({info['unit']}), {info['classes']} classes, "
        f"{info['bytes'] / 2**20:.2f} MB, clips {info['data']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
