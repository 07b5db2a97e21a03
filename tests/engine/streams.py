"""Real streams on the loopback for the live tests: MPEG-TS files written with PyAV, served
by a tiny HTTP server thread at the rate they play (or stalling, or never answering)."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from pathlib import Path

import av
import numpy as np

from mrstnet.data.synthetic import class_video

TS_PACKET = 188


def write_ts(path: Path, frames: np.ndarray, fps: int = 25, audio_only: bool = False) -> Path:
    """uint8 (T, H, W, 3) frames as H.264 in MPEG-TS (what cameras and encoders stream);
    `audio_only`: one second of silence as MP2 and no video stream."""
    with av.open(str(path), "w", format="mpegts") as c:
        if audio_only:
            a = c.add_stream("mp2", rate=16000)
            silence = np.zeros((1, 16000), np.int16)
            frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
            frame.sample_rate = 16000
            for p in [*a.encode(frame), *a.encode()]:
                c.mux(p)
            return path
        v = c.add_stream("libx264", rate=fps)
        v.height, v.width = frames.shape[1:3]
        v.pix_fmt = "yuv420p"
        # no B-frames and a short GOP: a decoder can start soon, frames come out at once
        v.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(fps)}
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    return path


def motion_frames(seconds: float, fps: int = 25, size: int = 80, seed: int = 0) -> np.ndarray:
    """Synthetic motion clips of one second each, one after another."""
    rng = np.random.default_rng(seed)
    n = max(1, round(seconds))
    clips = [class_video(k % 4, rng, fps, size) for k in range(n)]
    return np.concatenate(clips)[: max(1, round(seconds * fps))]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server
        data = server.data
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.send_header("Content-Length", str(len(data)))  # a clean end of stream
        self.end_headers()
        chunk = TS_PACKET * 16
        stop_at = len(data) if server.cut_at is None else int(len(data) * server.cut_at)
        start = time.monotonic()
        sent = 0
        try:
            while sent < stop_at and not server.closing.is_set():
                piece = data[sent : min(sent + chunk, stop_at)]
                self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
                if server.rate:  # bytes at the rate the video plays
                    wait = start + sent / server.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
            if server.cut_at is not None and server.hold:
                server.closing.wait()  # keep the connection open, send nothing more
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(
    path: Path, *, seconds: float | None = None, cut_at: float | None = None, hold: bool = True
):
    """Serve `path` at http://127.0.0.1:PORT/stream.ts; `seconds`: the video's length, to
    send it at the rate it plays (None: as fast as possible); `cut_at`: stop sending
    after this fraction of the bytes, then hold the connection open (`hold`, a stalled
    stream) or close it (a dropped one)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.data = Path(path).read_bytes()
    server.rate = len(server.data) / seconds if seconds else None
    server.cut_at, server.hold = cut_at, hold
    server.closing = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.ts"
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server():
    """A TCP port that accepts connections and never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A port on the loopback where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
