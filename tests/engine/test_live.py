"""`mrstnet watch` on real streams served on the loopback (HTTP, MPEG-TS written by PyAV at
the rate it plays): one line per prediction, dropped windows when the model is behind,
a clear line and a bounded wait for every kind of bad source, a clean stop on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mrstnet.cli import main
from mrstnet.data.stream import FrameSource
from mrstnet.engine.inference import load_predictor
from mrstnet.engine.live import END
from mrstnet.engine.live import watch as live_watch

from .streams import closed_port, motion_frames, serve, silent_server, write_ts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ts_file(tmp_path_factory) -> Path:
    """3 s of motion, 64x64 at 25 fps, H.264 in MPEG-TS."""
    return write_ts(tmp_path_factory.mktemp("ts") / "s.ts", motion_frames(3, size=64))


def watch(ckpt, source, *extra) -> list[str]:
    return ["watch", str(source), "--checkpoint", str(ckpt), *extra]


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_watch_a_live_http_stream(tiny_ckpt, ts_file, capsys):
    with serve(ts_file, seconds=3.0) as url:
        tic = time.monotonic()
        code = main(watch(tiny_ckpt, url, "--jsonl", "--stride", "0.2"))
        wall = time.monotonic() - tic
    assert code == 0
    out = capsys.readouterr()
    records = jsonl(out.out)
    assert wall > 2.0  # the stream arrives at the rate it plays
    times = [r["time"] for r in records]
    assert times == sorted(times) and times[-1] == pytest.approx(3.0, abs=0.25)
    assert len(records) >= 8  # a window (0.32 s) every 0.2 s; a few may be dropped
    for r in records:
        assert r["end"] - r["start"] == pytest.approx(0.32, abs=1e-3)
        assert 0 <= r["latency_ms"] < 2000 and len(r["top"]) == 3
    summary = out.err.strip().splitlines()[-1]
    assert summary.startswith("mrstnet watch: end of stream.") and "latency median" in summary


def test_a_slow_consumer_drops_windows_instead_of_queueing_them(tiny_ckpt, tmp_path):
    """250 frames a second, a window every frame, and each prediction held 30 ms by what
    consumes it (a slow sink): about 7 windows arrive per prediction, so most are dropped
    and the latency stays that of one prediction. The slowness is the consumer's, not the
    machine's: the tiny model alone keeps up on a fast CPU."""
    fast = write_ts(tmp_path / "fast.ts", motion_frames(2, fps=250, size=64), fps=250)
    predictor = load_predictor(tiny_ckpt, device="cpu")
    records = []

    def slow_sink(record):
        records.append(record)
        time.sleep(0.03)

    with FrameSource(str(fast), realtime=True) as source:
        summary = live_watch(predictor, source, stride=0.004, on_prediction=slow_sink)
    assert summary.ended == END
    assert summary.windows_dropped > len(records) > 0
    assert summary.predictions + summary.windows_dropped <= summary.windows == 500 - 8 + 1
    latencies = sorted(r["latency_ms"] for r in records)
    assert latencies[len(latencies) // 2] < 500  # no backlog builds up
    assert f"{summary.windows_dropped} of {summary.windows} windows dropped" in summary.line()


def test_max_seconds_stops_a_long_stream(tiny_ckpt, ts_file, capsys):
    with serve(ts_file, seconds=3.0) as url:
        assert main(watch(tiny_ckpt, url, "--max-seconds", "1")) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stopped at --max-seconds" in summary
    wall = float(summary.split(" s wall)")[0].rsplit("(", 1)[1])
    assert 1.0 <= wall < 1.6


@pytest.mark.parametrize("hold", [True, False], ids=["stalls", "drops"])
def test_a_stream_that_breaks_off_keeps_its_predictions(tiny_ckpt, ts_file, capsys, hold):
    with serve(ts_file, seconds=3.0, cut_at=0.5, hold=hold) as url:
        tic = time.monotonic()
        code = main(watch(tiny_ckpt, url, "--read-timeout", "1", "--stride", "0.2"))
        assert time.monotonic() - tic < 6
    assert code == 1
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines and all(" s  " in line and "latency" in line for line in lines)
    err = out.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mrstnet watch: stream broke off: ")
    assert url in err[0] and "stopped after" in err[0]
    if hold:
        assert "no data within 1 s (timed out)" in err[0]


def bad_sources(tmp_path, ts_audio):
    """(source, what the one error line says) for each kind of source that gives nothing."""
    empty = tmp_path / "empty.ts"
    empty.write_bytes(b"")
    return {
        "refused": (f"tcp://127.0.0.1:{closed_port()}", "Connection refused"),
        "refused_http": (f"http://127.0.0.1:{closed_port()}/live.ts", "Connection refused"),
        "no_device": ("/dev/video97", "cannot open"),
        "no_protocol": ("nosuchproto://camera", "cannot open"),
        "zero_length": (str(empty), "empty file (0 bytes)"),
        "no_file": (str(tmp_path / "absent.mp4"), "file not found"),
        "no_video": (ts_audio, "no video stream"),
    }


@pytest.mark.parametrize(
    "kind",
    ["refused", "refused_http", "no_device", "no_protocol", "zero_length", "no_file", "no_video"],
)
def test_a_source_that_gives_nothing_is_one_clear_line(tiny_ckpt, tmp_path, capsys, kind):
    audio = write_ts(tmp_path / "audio.ts", None, audio_only=True)
    with serve(audio) as audio_url:
        source, message = bad_sources(tmp_path, audio_url)[kind]
        assert main(watch(tiny_ckpt, source, "--open-timeout", "2")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"mrstnet watch: error: {source}") and message in err[-1], err
    assert len([line for line in err if "error" in line]) == 1


def test_a_server_that_never_answers_times_out(tiny_ckpt, capsys):
    with silent_server() as port:
        tic = time.monotonic()
        code = main(watch(tiny_ckpt, f"http://127.0.0.1:{port}/x.ts", "--open-timeout", "1"))
        assert time.monotonic() - tic < 5
    assert code == 2
    assert "no data within 1 s (timed out)" in capsys.readouterr().err


def test_ctrl_c_stops_cleanly_with_a_summary(tiny_ckpt, tmp_path):
    video = write_ts(tmp_path / "long.ts", motion_frames(20, size=64))
    cmd = [sys.executable, "-m", "mrstnet", *watch(tiny_ckpt, video, "--realtime")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    # Ctrl-C as from a terminal: a test run in the background (`pytest &`) ignores SIGINT,
    # and a child would inherit that and watch to the end of the stream
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = proc.stdout.readline()  # the first prediction: it is watching
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert " s  " in first and "latency" in first
    assert proc.returncode == 0, err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("mrstnet watch: interrupted (Ctrl-C).") and "predictions" in summary
    assert "Traceback" not in err
