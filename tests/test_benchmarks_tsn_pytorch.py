"""benchmarks/tsn_pytorch_loader.py (frames in tsn-pytorch's layout) and clip_rate.py
(CPU time with children).

tsn-pytorch itself is not needed (its checkout is the benchmark user's): its
file names and list format are written out here by hand from its dataset.py
and main.py (`--flow_pref flow_`).
"""
import importlib
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from tsn_tf.input.contract import schema

BENCHMARKS = pathlib.Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def loader_module(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("tsn_pytorch_loader")


def _video(media_id, label, num_frames, flow, shade):
    """A VideoRecord whose every frame is a different JPEG (flat grey levels)."""
    gray = lambda value, channels: np.full((8, 10, channels), value, np.uint8)
    rgb = [schema.jpeg_bytes(gray(shade + 10 * i, 3)) for i in range(num_frames)]
    flow_x = [schema.jpeg_bytes(gray(shade + 10 * i + 3, 1)) for i in range(num_frames - 1)]
    flow_y = [schema.jpeg_bytes(gray(shade + 10 * i + 6, 1)) for i in range(num_frames - 1)]
    return schema.VideoRecord(
            media_id=media_id, label_indices=[label], label_strings=["c"], height=8, width=10,
            frame_rate=30.0, rgb_jpegs=rgb, timestamps_us=list(range(num_frames)),
            flow_x_jpegs=flow_x if flow else [], flow_y_jpegs=flow_y if flow else [])


def test_write_frames_gives_tsn_pytorchs_layout(loader_module, tmp_path):
    videos = [_video("a.mp4#0", 7, 3, flow=True, shade=20),
              _video("b.mp4#0", 2, 4, flow=True, shade=120)]
    lists = loader_module.write_frames(tmp_path / "frames", videos)

    assert lists == {"rgb": str(tmp_path / "frames" / "rgb_list.txt"),
                     "flow": str(tmp_path / "frames" / "flow_list.txt")}
    folders = [tmp_path / "frames" / "video00000", tmp_path / "frames" / "video00001"]
    assert sorted(os.listdir(folders[0])) == [
            "flow_x_00001.jpg", "flow_x_00002.jpg", "flow_y_00001.jpg", "flow_y_00002.jpg",
            "img_00001.jpg", "img_00002.jpg", "img_00003.jpg"]
    assert len(os.listdir(folders[1])) == 4 + 3 + 3
    # tsn-pytorch reads "path num_frames label", frames 1..num_frames.
    assert (tmp_path / "frames" / "rgb_list.txt").read_text() == (
            f"{folders[0]} 3 7\n{folders[1]} 4 2\n")
    assert (tmp_path / "frames" / "flow_list.txt").read_text() == (
            f"{folders[0]} 2 7\n{folders[1]} 3 2\n")
    for folder, video in zip(folders, videos):
        for i, jpeg in enumerate(video.rgb_jpegs):
            assert (folder / f"img_{i + 1:05d}.jpg").read_bytes() == jpeg
        for i, (x, y) in enumerate(zip(video.flow_x_jpegs, video.flow_y_jpegs)):
            assert (folder / f"flow_x_{i + 1:05d}.jpg").read_bytes() == x
            assert (folder / f"flow_y_{i + 1:05d}.jpg").read_bytes() == y


def test_write_frames_without_flow_writes_no_flow_list(loader_module, tmp_path):
    lists = loader_module.write_frames(tmp_path, [_video("a", 1, 2, flow=False, shade=50)])
    assert list(lists) == ["rgb"]
    assert sorted(os.listdir(tmp_path / "video00000")) == ["img_00001.jpg", "img_00002.jpg"]


def test_write_frames_refuses_a_folder_with_spaces(loader_module, tmp_path):
    with pytest.raises(ValueError, match="splits on spaces"):
        loader_module.write_frames(tmp_path / "my frames", [_video("a", 1, 2, True, 50)])


def test_cpu_seconds_count_live_and_exited_children(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    clip_rate = importlib.import_module("clip_rate")
    burn = ("import sys, time\nend = time.process_time() + 0.5\n"
            "while time.process_time() < end: pass\nprint('done', flush=True)\nsys.stdin.read()")
    before = clip_rate.cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "done\n"
    time.sleep(0.05)
    live = clip_rate.cpu_seconds() - before
    child.communicate("")
    exited = clip_rate.cpu_seconds() - before
    # >= 0.45: the kernel counts CPU time in clock ticks (10 ms), so 0.5 s of
    # burning may show as a tick less
    assert live >= 0.45 and exited >= 0.45
    assert exited < live + 0.3  # the child is not counted twice once reaped


def test_torchvision_stand_in_composes_in_order():
    # A fresh process: the stand-in would replace torchvision for later tests.
    script = ("import tsn_pytorch_loader as t; t.import_torchvision(); import torchvision; "
              "print(torchvision.transforms.Compose([lambda x: x + 1, lambda x: 2 * x])(3))")
    done = subprocess.run([sys.executable, "-c", script], cwd=BENCHMARKS, capture_output=True,
                          text=True, check=True)
    assert done.stdout.splitlines()[-1] == "8"
