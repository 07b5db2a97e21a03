import numpy as np
import pytest

from mrstnet.data.synthetic import write_video
from mrstnet.data.video import VideoDecodeError, VideoReader, probe, read_all_frames, read_frames


def _frames(n=40, h=48, w=64, seed=0):
    """Frames that change a lot from one to the next, so a wrong frame is caught."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    shift = (np.arange(n) * 37 % 256).astype(np.uint8)
    return (base[None] + shift[:, None, None, None]).astype(np.uint8)


FORMATS = [("mpeg4", "avi"), ("libx264", "mp4"), ("libvpx-vp9", "webm"), ("libx264", "mkv")]


@pytest.mark.parametrize("codec,ext", FORMATS)
def test_seek_equals_sequential_decode(tmp_path, codec, ext):
    path = tmp_path / f"v.{ext}"
    write_video(path, _frames(), codec=codec, gop=6)  # several keyframes
    full = read_all_frames(path)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (40, 64, 48)
    assert info.fps == pytest.approx(25)
    for idx in ([0, 1, 2], [13, 14, 15, 16], [30, 32, 34, 36, 38], [39], [25, 5, 25]):
        np.testing.assert_array_equal(read_frames(path, idx), full[idx])


@pytest.mark.parametrize("h,w,pix_fmt,codec", [(97, 131, "yuv420p", "mpeg4"), (48, 64, "gray", "libx264")])
def test_odd_size_and_grayscale(tmp_path, h, w, pix_fmt, codec):
    path = tmp_path / "v.mkv"
    write_video(path, _frames(12, h, w), codec=codec, pix_fmt=pix_fmt)
    out = read_frames(path, [3, 11])
    assert out.shape == (2, h, w, 3) and out.dtype == np.uint8


def test_audio_stream_and_variable_frame_rate(tmp_path):
    import av

    path = tmp_path / "vfr.mkv"
    frames = _frames(20)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.time_base = __import__("fractions").Fraction(1, 1000)
        a = c.add_stream("aac", rate=16000)
        pts = 0
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = pts, v.codec_context.time_base
            pts += 40 if i % 2 else 80  # 25 and 12.5 fps alternating
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        silence.sample_rate = 16000
        for p in a.encode(silence):
            c.mux(p)
        for p in a.encode():
            c.mux(p)
    with VideoReader(path) as r:
        n = r.info.num_frames
        out = r.read([0, n // 2, n - 1])
    assert out.shape == (3, 48, 64, 3)


def test_header_without_frame_count_falls_back_to_packets(tmp_path):
    path = tmp_path / "v.webm"  # webm headers carry no frame count
    write_video(path, _frames(17), codec="libvpx-vp9")
    with VideoReader(path) as r:
        assert r.stream.frames == 0
        assert r.info.num_frames == 17


def test_truncated_file_is_an_error_past_its_end(tmp_path):
    path = tmp_path / "v.avi"
    write_video(path, _frames(60), gop=6)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoDecodeError, match="v.avi"):
        read_frames(path, [50, 59])
