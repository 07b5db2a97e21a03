"""A real `mrstnet serve` in a subprocess, and a plain HTTP client for it (urllib, no mocks).

Each server gets its own TMPDIR, so a test can look at every file the server wrote there:
its temporary folder (mrstnet-serve-*) must hold nothing between requests and be gone
after the server stops.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_S = 90  # loading torch and the model on a busy 2-core machine


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return self.json()["error"]["code"]


def multipart(field: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def request(method: str, url: str, body=None, headers=None, timeout: float = 60) -> Reply:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    tmp: Path  # the server's TMPDIR
    log: Path
    token: str | None = None
    stopped: bool = field(default=False)

    def auth(self, token: str | None = None) -> dict:
        token = token or self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, headers: dict | None = None, timeout: float = 30) -> Reply:
        return request("GET", self.url + path, headers=headers, timeout=timeout)

    def post_video(
        self,
        data: bytes | Path,
        *,
        filename: str | None = None,
        content_type: str = "video/x-msvideo",
        query: str = "",
        headers: dict | None = None,
        field: str = "video",
        timeout: float = 120,
    ) -> Reply:
        if isinstance(data, Path):
            filename = filename or data.name
            data = data.read_bytes()
        body, ctype = multipart(field, filename or "clip.avi", data, content_type)
        h = {"Content-Type": ctype, **(self.auth() if headers is None else headers)}
        return request("POST", f"{self.url}v1/predict{query}", body, h, timeout)

    def temp_files(self) -> list[Path]:
        """Everything under the server's TMPDIR but its own (empty) folder."""
        return [p for p in self.tmp.rglob("*") if not (p.is_dir() and p.parent == self.tmp)]

    def wait_no_temp_files(self, seconds: float = 30) -> list[Path]:
        end = time.monotonic() + seconds
        while (left := self.temp_files()) and time.monotonic() < end:
            time.sleep(0.1)
        return left

    def stop(self) -> int:
        if not self.stopped:
            self.stopped = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError(f"no stop on SIGTERM; log:\n{self.logs()}") from None
        return self.proc.returncode

    def logs(self) -> str:
        return self.log.read_text(errors="replace") + (self.log.with_suffix(".out")).read_text()


def start_server(tmp: Path, *args: str, token: str | None = None) -> Server:
    """`python -m mrstnet serve --port 0 ARGS` with TMPDIR=tmp/tmp; waits (bounded) for its
    'serving ... on http://...' line and a ready /healthz."""
    (tmp / "tmp").mkdir(parents=True)
    out, log = tmp / "server.out", tmp / "server.log"
    env = {**os.environ, "TMPDIR": str(tmp / "tmp"), "PYTHONPATH": str(ROOT)}
    env.pop("MRSTNET_TOKEN", None)
    env["OMP_NUM_THREADS"] = "1"
    argv = [sys.executable, "-m", "mrstnet", "serve", "--port", "0", "--log-level", "warning"]
    if token:
        argv += ["--token", token]
    with open(out, "w") as stdout, open(log, "w") as stderr:
        proc = subprocess.Popen([*argv, *args], stdout=stdout, stderr=stderr, cwd=ROOT, env=env)
    server = Server("", proc, tmp / "tmp", log, token)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        m = re.search(r"on (http://127\.0\.0\.1:\d+/)", out.read_text())
        if m:
            server.url = m.group(1)
            break
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{server.logs()}")
        time.sleep(0.2)
    else:
        server.stop()
        raise AssertionError(f"no 'serving on' line within {START_S} s:\n{server.logs()}")
    while time.monotonic() < deadline:
        try:
            if server.get("healthz", timeout=5).status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"/healthz not ready within {START_S} s:\n{server.logs()}")
