"""The result file of one check, rewritten whole at every update (write, then rename).

A check records each figure as soon as it has it; when the runner stops the check at its
time limit, the file still holds everything measured before. No torch here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Part:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.data: dict = {"throughput": []}
        self._write()

    def update(self, **values) -> None:
        self.data.update(values)
        self._write()

    def detail(self, key: str, value) -> None:
        """One entry of the check's `details` mapping."""
        self.data.setdefault("details", {})[key] = value
        self._write()

    def add_throughput(self, entry: dict) -> None:
        self.data["throughput"].append(entry)
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".partial")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)


def read_part(path: str | os.PathLike) -> dict:
    """What a check wrote, or {} when it wrote nothing readable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
