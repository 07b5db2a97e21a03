"""Decoding: seek equals sequential decode across containers and codecs; odd inputs decode at
their stored size; every bad file is a VideoDecodeError that names it."""

from fractions import Fraction

import av
import numpy as np
import pytest

from mrstnet.data.check import check_video
from mrstnet.data.synthetic import write_video
from mrstnet.data.video import (
    ToRGB,
    VideoDecodeError,
    VideoReader,
    probe,
    read_all_frames,
    read_frames,
)

from .media import cut, moving_frames, write_with_audio

FORMATS = [("mpeg4", "avi"), ("libx264", "mp4"), ("libvpx-vp9", "webm"), ("libx264", "mkv")]


@pytest.mark.parametrize("codec,ext", FORMATS)
def test_seek_equals_sequential_decode(tmp_path, codec, ext):
    path = tmp_path / f"v.{ext}"
    write_video(path, moving_frames(), codec=codec, gop=5)  # several keyframes
    full = read_all_frames(path)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (24, 32, 24)
    assert info.fps == pytest.approx(25)
    for idx in ([0, 1, 2], [6, 7, 8, 9], [11, 13, 15, 17, 19], [23], [16, 3, 16]):
        np.testing.assert_array_equal(read_frames(path, idx), full[idx])


@pytest.mark.parametrize(
    "h,w,pix_fmt,codec",
    [(97, 131, "yuv420p", "mpeg4"), (97, 131, "yuv444p", "libx264"), (24, 32, "gray", "libx264")],
)
def test_odd_size_and_gray_pix_fmt_decode_at_stored_size(tmp_path, h, w, pix_fmt, codec):
    path = tmp_path / "v.mkv"
    write_video(path, moving_frames(8, h, w), codec=codec, pix_fmt=pix_fmt, gop=3)
    info = probe(path)
    assert (info.width, info.height) == (w, h)
    out = read_frames(path, [3, 7])
    assert out.shape == (2, h, w, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, read_all_frames(path)[[3, 7]])


def test_one_converter_for_many_frames_gives_pyav_own_pixels(tmp_path):
    # ToRGB keeps one swscale context; it must give what a fresh context a frame gives,
    # also when the next file has another size and pixel format (the context is rebuilt)
    convert = ToRGB()
    for h, w, pix_fmt, codec, name in [
        (24, 32, "yuv420p", "mpeg4", "a.avi"),
        (97, 131, "yuv444p", "libx264", "b.mkv"),
    ]:
        path = tmp_path / name
        write_video(path, moving_frames(6, h, w), codec=codec, pix_fmt=pix_fmt, gop=3)
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                got = convert(frame)
                assert got.shape == (h, w, 3)
                np.testing.assert_array_equal(got, frame.to_ndarray(format="rgb24"))


def test_gray_content_gives_three_equal_channels(tmp_path):
    path = tmp_path / "gray.avi"
    gray = moving_frames(8)[..., :1].repeat(3, axis=-1)
    write_video(path, np.ascontiguousarray(gray), gop=3)
    out = read_frames(path, [5]).astype(int)
    assert out.shape == (1, 24, 32, 3)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 3  # colour conversion rounding only
    assert np.abs(out[..., 0] - out[..., 2]).max() <= 3


def _write_vfr_with_audio(path, frames):
    """libx264 in mkv with pts set by hand: 80 ms and 40 ms gaps alternate; plus an AAC track."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000)
        v.codec_context.gop_size = 5
        a = c.add_stream("aac", rate=16000)
        pts = 0
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = pts, v.codec_context.time_base
            pts += 40 if i % 2 else 80
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        silence = av.AudioFrame.from_ndarray(
            np.zeros((1, 16000), np.float32), format="fltp", layout="mono"
        )
        silence.sample_rate = 16000
        for p in [*a.encode(silence), *a.encode()]:
            c.mux(p)


def test_variable_frame_rate_with_audio_seek_equals_sequential(tmp_path):
    path = tmp_path / "vfr.mkv"
    _write_vfr_with_audio(path, moving_frames(20))
    # Sequential reference: index i is the frame on screen at time i / fps.
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps = VideoReader(path).fps
        decoded = [(float(f.pts * s.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(s)]
    assert len(decoded) == 20
    with VideoReader(path) as r:
        n = r.info.num_frames
        for idx in ([0, 1, 2, 3], [n // 2, n // 2 + 1], [n - 3, n - 1], [7]):
            expected = [[img for t, img in decoded if round(t * fps) <= i][-1] for i in idx]
            np.testing.assert_array_equal(r.read(idx), np.stack(expected))


def test_header_without_frame_count_falls_back_to_packets(tmp_path):
    path = tmp_path / "v.webm"  # webm headers carry no frame count
    write_video(path, moving_frames(17), codec="libvpx-vp9")
    with VideoReader(path) as r:
        assert r.stream.frames == 0
        assert r.info.num_frames == 17


# -- bad files ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,reason",
    [
        ("missing", "file not found"),
        ("empty", "empty file"),
        ("audio_only", "no video stream"),
        ("random_bytes", "cannot open"),
    ],
)
def test_bad_file_is_a_decode_error_naming_it(bad_videos, kind, reason):
    path = bad_videos[kind]
    for call in (lambda: probe(path), lambda: read_frames(path, [0]), lambda: check_video(path)):
        with pytest.raises(VideoDecodeError, match=reason) as e:
            call()
        assert str(e.value).startswith(str(path)) and e.value.path == str(path)


def test_truncated_file_is_an_error_past_its_end(bad_videos):
    path = bad_videos["truncated"]  # 24 frames written, half the bytes kept
    for call in (lambda: read_frames(path, [20, 23]), lambda: check_video(path)):
        with pytest.raises(VideoDecodeError, match="truncated") as e:
            call()
        assert e.value.path == str(path)
    # What is left still decodes: the packet count replaces the header's 24.
    assert 0 < probe(path).num_frames < 24
    assert read_frames(path, [0, 1]).shape == (2, 24, 32, 3)


@pytest.mark.parametrize("codec,ext", [("libvpx-vp9", "webm"), ("libx264", "mkv")])
def test_truncated_file_without_a_header_count_is_caught_by_its_duration(tmp_path, codec, ext):
    path = tmp_path / f"v.{ext}"
    write_video(path, moving_frames(48), codec=codec, gop=5)
    assert check_video(path).num_frames == 48
    cut(path)
    with VideoReader(path) as r:
        assert r.stream.frames == 0  # no header count to compare with
        held = r.info.num_frames  # the packets left
    assert 0 < held < 48
    with pytest.raises(VideoDecodeError) as e:
        check_video(path)
    assert e.value.reason == (
        f"truncated: the container's duration implies ~48 frames, the file holds {held}"
    )


def test_audio_longer_than_the_video_is_not_a_cut(tmp_path):
    path = tmp_path / "v.mkv"
    write_with_audio(path, moving_frames(48), seconds=3.0)  # the duration is the audio's
    assert check_video(path).num_frames == 48
    with pytest.raises(VideoDecodeError, match="truncated: the container's duration"):
        check_video(cut(path))
