"""Importing extracted frame folders (issue 23): real JPEG files from cv2.imencode, real
zips, real lists and shards; every stored frame compared with its file."""
import io
import os
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.input.contract import layout, schema
from tsn_tf.input.ingestion import ingest_local, jpeg_header, lists, rawframes

RNG = np.random.default_rng(23)


def jpeg(height=24, width=32, gray=False, params=()) -> bytes:
    """Real JPEG bytes of noise from OpenCV's encoder (`params`: cv2.imencode flags)."""
    shape = (height, width) if gray else (height, width, 3)
    ok, data = cv2.imencode(".jpg", RNG.integers(0, 256, shape, dtype=np.uint8), list(params))
    assert ok
    return data.tobytes()


def write_folder(folder, num_rgb, num_flow, *, start=1, rgb="img_{:05d}.jpg",
                 flow_x="flow_x_{:05d}.jpg", flow_y="flow_y_{:05d}.jpg", size=(24, 32)):
    """A frame folder as dense_flow / denseflow write it; returns {file name: bytes}."""
    os.makedirs(folder, exist_ok=True)
    files = {rgb.format(start + i): jpeg(*size) for i in range(num_rgb)}
    for i in range(num_flow):
        files[flow_x.format(start + i)] = jpeg(*size, gray=True)
        files[flow_y.format(start + i)] = jpeg(*size, gray=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(data)
    return files


def write_list(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines))
    return str(path)


def import_tree(tmp_path, list_lines, options=rawframes.ImportOptions(), class_index=None,
                output="out"):
    """tsn-ingest's import path in this process: list -> shards; (manifest, {id: record})."""
    list_file = write_list(tmp_path / "rgb_train_split_1.txt", list_lines)
    video_list = lists.load_list("rawframes", [list_file], str(tmp_path / "frames"),
                                 class_index)
    manifest = ingest_local.ingest_local(video_list.entries, video_list.label_map,
                                         str(tmp_path / output), options, num_shards=1,
                                         workers=0, progress_stream=io.StringIO())
    records = {}
    for path in tf.io.gfile.glob(str(tmp_path / output / "*.tfrecord")):
        for example in layout.read_videos(path):
            record = schema.from_sequence_example(example)
            records[record.media_id] = record
    return manifest, records


# --- byte-identical frames ------------------------------------------------------------------

def test_every_stored_frame_is_its_file_byte_for_byte(tmp_path):
    folders = {"v_a": (7, 6), "v_b": (5, 4), "v_c": (9, 8)}  # N RGB, N - 1 flow
    written = {name: write_folder(tmp_path / "frames" / "Cls" / name, *counts)
               for name, counts in folders.items()}
    manifest, records = import_tree(
            tmp_path, [f"Cls/{name} {n} {i}" for i, (name, (n, _)) in enumerate(folders.items())])
    assert manifest["videos_ingested"] == 3 and not manifest["failures"]
    for name, (num_rgb, num_flow) in folders.items():
        record, files = records[name], written[name]
        assert record.rgb_jpegs == [files[f"img_{i:05d}.jpg"] for i in range(1, num_rgb + 1)]
        assert record.flow_x_jpegs == [files[f"flow_x_{i:05d}.jpg"]
                                       for i in range(1, num_flow + 1)]
        assert record.flow_y_jpegs == [files[f"flow_y_{i:05d}.jpg"]
                                       for i in range(1, num_flow + 1)]
        assert (record.width, record.height) == (32, 24)
        assert record.timestamps_us == [round(i * 1e6 / 30) for i in range(num_rgb)]
        assert record.flow_algorithm == "imported:unspecified" and record.flow_bound == 20.0
        assert record.resize == "32x24" and record.jpeg_quality == 95  # the frames' size


def test_dense_flow_n_and_n_drops_the_first_flow_pair(tmp_path):
    """dense_flow writes img_k with flow_k, both ending at video frame k (k = 1..N-1):
    flow_1 starts at a frame it did not write, so flow i of the shard is flow_{i+2}."""
    files = write_folder(tmp_path / "frames" / "v_tsn", 6, 6)
    _, records = import_tree(tmp_path, ["v_tsn 6 0"])
    record = records["v_tsn"]
    assert record.rgb_jpegs == [files[f"img_{i:05d}.jpg"] for i in range(1, 7)]
    assert record.flow_x_jpegs == [files[f"flow_x_{i:05d}.jpg"] for i in range(2, 7)]
    assert record.flow_y_jpegs == [files[f"flow_y_{i:05d}.jpg"] for i in range(2, 7)]


def test_dense_flow_zip_archives(tmp_path):
    """`extract_gpu -o zip`: img.zip, flow_x.zip, flow_y.zip with img_/x_/y_%05d.jpg from 1."""
    folder = tmp_path / "frames" / "v_zip"
    folder.mkdir(parents=True)
    members = {"img": {f"img_{i:05d}.jpg": jpeg() for i in range(1, 6)},
               "flow_x": {f"x_{i:05d}.jpg": jpeg(gray=True) for i in range(1, 6)},
               "flow_y": {f"y_{i:05d}.jpg": jpeg(gray=True) for i in range(1, 6)}}
    for archive, files in members.items():
        with zipfile.ZipFile(folder / f"{archive}.zip", "w") as handle:
            for name, data in files.items():
                handle.writestr(name, data)
    _, records = import_tree(tmp_path, ["v_zip 5 0"])
    record = records["v_zip"]
    assert record.rgb_jpegs == list(members["img"].values())
    assert record.flow_x_jpegs == list(members["flow_x"].values())[1:]  # N / N: dense_flow
    assert record.flow_y_jpegs == list(members["flow_y"].values())[1:]


def test_denseflow_zero_based_and_templates(tmp_path):
    zero = write_folder(tmp_path / "frames" / "v_zero", 4, 3, start=0)
    custom = write_folder(tmp_path / "frames" / "v_custom", 4, 3, rgb="{:06d}.jpg",
                          flow_x="x{:06d}.jpg", flow_y="y{:06d}.jpg")
    _, records = import_tree(tmp_path, ["v_zero 4 0"])
    assert records["v_zero"].rgb_jpegs == [zero[f"img_{i:05d}.jpg"] for i in range(4)]
    assert records["v_zero"].flow_x_jpegs == [zero[f"flow_x_{i:05d}.jpg"] for i in range(3)]
    options = rawframes.ImportOptions(layout=rawframes.FrameLayout(
            "{:06d}.jpg", "x{:06d}.jpg", "y{:06d}.jpg", start_index=1))
    _, records = import_tree(tmp_path, ["v_custom 4 0"], options, output="custom")
    assert records["v_custom"].rgb_jpegs == [custom[f"{i:06d}.jpg"] for i in range(1, 5)]
    assert records["v_custom"].flow_y_jpegs == [custom[f"y{i:06d}.jpg"] for i in range(1, 4)]


def test_explicit_start_index_refuses_the_other_numbering(tmp_path):
    write_folder(tmp_path / "frames" / "v_zero", 4, 3, start=0)
    options = rawframes.ImportOptions(layout=rawframes.FrameLayout(start_index=1))
    manifest, _ = import_tree(tmp_path, ["v_zero 4 0"], options)
    assert "img_00001.jpg missing: the frames start at img_00000.jpg" in \
        manifest["failures"][0]["reason"]


def test_frames_on_a_tf_filesystem_url(tmp_path):
    root = f"ram://rawframes_{os.getpid()}"
    local = write_folder(tmp_path / "local", 3, 2)
    for name, data in local.items():
        with tf.io.gfile.GFile(f"{root}/frames/v_ram/{name}", "wb") as handle:
            handle.write(data)
    with tf.io.gfile.GFile(f"{root}/train.txt", "w") as handle:
        handle.write("v_ram 3 0\nv_gone 3 0\n")
    video_list = lists.load_list("rawframes", [f"{root}/train.txt"], f"{root}/frames")
    manifest = ingest_local.ingest_local(video_list.entries, video_list.label_map,
                                         f"{root}/out", rawframes.ImportOptions(), num_shards=1,
                                         workers=0, progress_stream=io.StringIO())
    record = schema.from_sequence_example(
            layout.read_videos(f"{root}/out/train-00000-of-00001.tfrecord")[0])
    assert record.rgb_jpegs == [local[f"img_{i:05d}.jpg"] for i in (1, 2, 3)]
    assert manifest["failures"][0]["reason"].endswith("v_gone: frame folder does not exist")


def test_a_rerun_keeps_complete_shards(tmp_path):
    write_folder(tmp_path / "frames" / "v_a", 3, 2)
    import_tree(tmp_path, ["v_a 3 0"])
    shard = tmp_path / "out" / "train-00000-of-00001.tfrecord"
    before = shard.stat().st_mtime_ns
    stream = io.StringIO()
    video_list = lists.load_list("rawframes", [str(tmp_path / "rgb_train_split_1.txt")],
                                 str(tmp_path / "frames"))
    ingest_local.ingest_local(video_list.entries, video_list.label_map, str(tmp_path / "out"),
                              rawframes.ImportOptions(), num_shards=1, workers=0,
                              progress_stream=stream)
    assert "resuming: 1 of 1 shards already complete" in stream.getvalue()
    assert shard.stat().st_mtime_ns == before


def test_beam_direct_runner_writes_the_shards_of_the_local_driver(tmp_path):
    from tsn_tf.input.ingestion import ingest_beam

    for number in range(4):
        write_folder(tmp_path / "frames" / f"v_{number}", 3 + number, 2 + number)
    lines = [f"v_{number} {3 + number} {number % 2}" for number in range(4)] + ["v_gone 3 0"]
    manifest, _ = import_tree(tmp_path, lines)
    video_list = lists.load_list("rawframes", [str(tmp_path / "rgb_train_split_1.txt")],
                                 str(tmp_path / "frames"))
    beam_manifest = ingest_beam.ingest_beam(video_list.entries, video_list.label_map,
                                            str(tmp_path / "beam"), rawframes.ImportOptions(),
                                            num_shards=1, runner="DirectRunner")
    name = "train-00000-of-00001.tfrecord"
    assert (tmp_path / "beam" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()
    assert beam_manifest == manifest and manifest["videos_ingested"] == 4


# --- decoding only when asked ----------------------------------------------------------

def test_short_side_decodes_resizes_and_reencodes_rgb(tmp_path):
    files = write_folder(tmp_path / "frames" / "v_a", 3, 0, size=(40, 60))
    options = rawframes.ImportOptions(modalities=("rgb",), short_side=20, jpeg_quality=80)
    _, records = import_tree(tmp_path, ["v_a 3 0"], options)
    record = records["v_a"]
    assert (record.width, record.height) == (30, 20) and record.resize == "short_side=20"
    expected = [cv2.imencode(".jpg", cv2.resize(cv2.imdecode(np.frombuffer(data, np.uint8), 1),
                                                (30, 20), interpolation=cv2.INTER_AREA),
                             [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
                for data in (files[f"img_{i:05d}.jpg"] for i in (1, 2, 3))]
    assert record.rgb_jpegs == expected and record.jpeg_quality == 80


def test_tsn_ingest_says_whether_it_copies_or_reencodes():
    from tsn_tf.input.ingestion import ingest_main

    assert ingest_main.import_note(rawframes.ImportOptions()) == \
        "importing frame folders: JPEG bytes copied unchanged"
    assert ingest_main.import_note(rawframes.ImportOptions(modalities=("rgb",), size=(340, 256))) \
        == ("importing frame folders: RGB decoded, resized to 340x256 and re-encoded at JPEG "
            "quality 95 (--frame_size/--short_side given)")
    assert "resized to short side 128 and" in ingest_main.import_note(
            rawframes.ImportOptions(modalities=("rgb",), short_side=128))


def test_imported_flow_cannot_be_resized():
    with pytest.raises(ValueError, match="imported flow holds px of the extracted frames"):
        rawframes.ImportOptions(short_side=128)


def test_rgb_only_folders_get_flow_from_ingestions_flow_path(tmp_path):
    from tsn_tf.input.ingestion import encode

    files = write_folder(tmp_path / "frames" / "v_rgb", 4, 0)
    options = rawframes.ImportOptions(compute_flow="dis", flow_bound=15.0)
    _, records = import_tree(tmp_path, ["v_rgb 4 0"], options)
    record = records["v_rgb"]
    rgb = [files[f"img_{i:05d}.jpg"] for i in range(1, 5)]
    frames = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) for data in rgb]
    streams = encode.encode_frames(frames, encode.IngestOptions(
            modalities=("flow",), flow_algorithm="dis", flow_bound=15.0, size=None,
            jpeg_quality=95))
    assert record.rgb_jpegs == rgb and len(record.flow_x_jpegs) == 3
    assert record.flow_x_jpegs == streams.flow_x_jpegs
    assert record.flow_algorithm == "dis" and record.flow_bound == 15.0


# --- bad input: one line naming the folder, the rest imported -----------------------------

def _png_named_jpg(folder):
    """A folder whose img_00002.jpg is not a JPEG (PNG bytes)."""
    write_folder(folder, 3, 2)
    ok, png = cv2.imencode(".png", np.zeros((24, 32, 3), np.uint8))
    (folder / "img_00002.jpg").write_bytes(png.tobytes())


def _truncated(folder):
    write_folder(folder, 3, 2)
    data = (folder / "flow_y_00002.jpg").read_bytes()
    (folder / "flow_y_00002.jpg").write_bytes(data[:len(data) // 2])


BAD = {  # name: (make the folder, its list count, the reason's text)
    "count": (lambda f: write_folder(f, 5, 4), 7,
              "the list gives 7 frames but the folder holds 5 RGB and 4 flow frames"),
    "gap": (lambda f: (write_folder(f, 5, 4), os.remove(f / "img_00003.jpg")), 4,
            "img_00003.jpg missing: a gap in the numbering of 4 frames from img_00001.jpg"),
    "x_without_y": (lambda f: (write_folder(f, 5, 4), os.remove(f / "flow_y_00004.jpg")), 5,
                    "4 flow x but 3 flow y frames: flow_y has no frame beside "
                    "flow_x_00004.jpg"),
    "counts": (lambda f: write_folder(f, 5, 2), 5,
               "5 RGB frames and 2 flow frames: expected N and N - 1 (denseflow) or N and N "
               "(dense_flow)"),
    "not_jpeg": (_png_named_jpg, 3, "img_00002.jpg: not a JPEG (no FF D8 start-of-image marker)"),
    "truncated": (_truncated, 3, "flow_y_00002.jpg: truncated JPEG (no FF D9 end-of-image "
                  "marker at the end of"),
    "empty": (lambda f: f.mkdir(parents=True), 3,
              "no frames (no file matches the rgb or flow templates)"),
    "missing": (lambda f: None, 3, "frame folder does not exist"),
    "bad_zip": (lambda f: (f.mkdir(parents=True), (f / "img.zip").write_bytes(b"PK\x03\x04")),
                3, "img.zip: not a zip archive"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_folder_fails_alone_with_one_line_naming_it(tmp_path, case):
    make, count, reason = BAD[case]
    make(tmp_path / "frames" / f"v_{case}")
    good = write_folder(tmp_path / "frames" / "v_good", 3, 2)
    manifest, records = import_tree(tmp_path, [f"v_{case} {count} 0", "v_good 3 1"])
    assert list(records) == ["v_good"]
    assert records["v_good"].rgb_jpegs == [good[f"img_{i:05d}.jpg"] for i in (1, 2, 3)]
    (failure,) = manifest["failures"]
    folder = str(tmp_path / "frames" / f"v_{case}")
    assert failure["path"] == folder and "\n" not in failure["reason"]
    assert failure["reason"].startswith(f"FrameFolderError: {folder}: ")
    assert reason in failure["reason"]


def test_rgb_only_import_ignores_a_broken_flow_stream(tmp_path):
    files = write_folder(tmp_path / "frames" / "v_a", 4, 3)
    os.remove(tmp_path / "frames" / "v_a" / "flow_y_00002.jpg")
    manifest, records = import_tree(tmp_path, ["v_a 4 0"],
                                    rawframes.ImportOptions(modalities=("rgb",)))
    assert not manifest["failures"] and not records["v_a"].flow_x_jpegs
    assert records["v_a"].rgb_jpegs == [files[f"img_{i:05d}.jpg"] for i in range(1, 5)]
    assert records["v_a"].flow_algorithm == ""


def test_cli_summarizes_failures_and_exits_1_past_max_failures(tmp_path):
    write_folder(tmp_path / "frames" / "v_good", 3, 2)
    write_folder(tmp_path / "frames" / "v_short", 3, 2)
    list_file = write_list(tmp_path / "train.txt", ["v_good 3 0", "v_short 9 1"])
    flags = ["-m", "tsn_tf.input.ingestion.ingest_main", f"--frames_dir={tmp_path / 'frames'}",
             "--list_format=rawframes", f"--list_files={list_file}", "--workers=0",
             "--imported_flow=tvl1_tsn", "--frame_rate=25"]
    result = subprocess.run([sys.executable, *flags, f"--output={tmp_path / 'out'}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "importing frame folders: JPEG bytes copied unchanged" in result.stderr
    assert "ingested 1 of 2 videos" in result.stderr
    assert (f"failed: {tmp_path / 'frames' / 'v_short'}: FrameFolderError: "
            f"{tmp_path / 'frames' / 'v_short'}: the list gives 9 frames") in result.stderr
    assert "error: 1 videos failed, more than --max_failures=0" in result.stderr
    record = schema.from_sequence_example(
            layout.read_videos(str(tmp_path / "out" / "train-00000-of-00001.tfrecord"))[0])
    assert record.flow_algorithm == "imported:tvl1_tsn" and record.frame_rate == 25.0
    assert record.timestamps_us == [0, 40000, 80000]
    bad = subprocess.run([sys.executable, *flags, f"--output={tmp_path / 'out2'}",
                          "--video_dir=/tmp"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "error: pass one of --video_dir (videos) and --frames_dir" in bad.stderr
    negative = subprocess.run([sys.executable, *flags, f"--output={tmp_path / 'out3'}",
                               "--short_side=-3", "--modalities=rgb"],
                              capture_output=True, text=True, timeout=300)
    assert negative.returncode == 2 and "error: --short_side must be >= 1, got -3" \
        in negative.stderr


@pytest.mark.parametrize("template", ["img_{n:05d}.jpg", "img_{:q}.jpg", "img.jpg",
                                      "img_{}_{}.jpg"])
def test_a_frame_name_template_that_cannot_name_frames_is_refused(template):
    with pytest.raises(ValueError, match="needs exactly one {} field"):
        rawframes.FrameLayout(rgb=template)


def test_computing_flow_needs_a_flow_stream_to_store_it():
    with pytest.raises(ValueError, match="--flow=dis computes flow, but --modalities=rgb "
                                         "stores none"):
        rawframes.ImportOptions(modalities=("rgb",), compute_flow="dis")


# --- JPEG headers ---------------------------------------------------------------------

@pytest.mark.parametrize("params", [(), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
                                    (cv2.IMWRITE_JPEG_OPTIMIZE, 1)])
def test_jpeg_header_reads_the_size_without_decoding(params):
    assert jpeg_header.jpeg_header(jpeg(17, 33, params=params)) == (33, 17, 3)
    assert jpeg_header.jpeg_header(jpeg(240, 320, gray=True, params=params)) == (320, 240, 1)


def test_jpeg_header_refuses_what_is_not_a_whole_jpeg():
    data = jpeg()
    with pytest.raises(jpeg_header.JpegError, match="no FF D8"):
        jpeg_header.jpeg_header(b"GIF89a" + data)
    with pytest.raises(jpeg_header.JpegError, match="truncated JPEG"):
        jpeg_header.jpeg_header(data[:-10])
    with pytest.raises(jpeg_header.JpegError, match="no SOF"):
        jpeg_header.jpeg_header(b"\xff\xd8\xff\xd9")
    assert jpeg_header.jpeg_header(data + b"\x00\x00").width == 32  # zero padding after EOI


# --- lists -----------------------------------------------------------------------------

def test_tsn_and_mmaction2_lists(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n3 Basketball\n")
    tsn = write_list(tmp_path / "ucf101_rgb_val_split_1.txt",
                     ["/data/frames/v_Archery_g01_c01 120 1"])
    mm = write_list(tmp_path / "ucf101_train_split_1_rawframes.txt",
                    ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01 121 0",
                     "Basketball/v_multi 90 2 0"])
    video_list = lists.load_list("rawframes", [tsn, mm], "/frames",
                                 str(tmp_path / "classInd.txt"))
    first, second, third = video_list.entries
    assert (first.media_id, first.path, first.label_strings, first.split,
            first.listed_frames) == ("v_Archery_g01_c01", "/data/frames/v_Archery_g01_c01",
                                     ("Archery",), "val", 120)
    assert second.path == "/frames/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01"
    assert second.split == "train" and second.label_strings == ("ApplyEyeMakeup",)
    assert third.label_strings == ("Basketball", "ApplyEyeMakeup")
    assert video_list.label_map == {"ApplyEyeMakeup": 0, "Archery": 1, "Basketball": 2}


def test_lists_without_a_label_map_name_classes_by_number(tmp_path):
    listed = write_list(tmp_path / "train.txt", ["a 3 2", "b 4 0"])
    video_list = lists.load_list("rawframes", [listed], str(tmp_path))
    assert video_list.label_map == {"0": 0, "1": 1, "2": 2}
    assert video_list.entries[0].label_strings == ("2",)


def test_hmdb51_split_folder_names_the_classes_sorted(tmp_path):
    splits = tmp_path / "splits"
    splits.mkdir()
    for name in ("wave", "brush_hair", "chew"):
        for number in (1, 2):
            (splits / f"{name}_test_split{number}.txt").write_text("x.avi 1\n")
    assert lists.class_names(str(splits)) == {"brush_hair": 0, "chew": 1, "wave": 2}


@pytest.mark.parametrize("line, message", [
    ("v_a 12", "expected '<frame folder> <num_frames> <label>"),
    ("v_a twelve 1", "counts and labels are non-negative integers"),
    ("v_a 12 5", "label 5 is outside the label map's 3 classes"),
])
def test_bad_list_lines_name_file_and_line(tmp_path, line, message):
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    listed = write_list(tmp_path / "train.txt", ["v_ok 3 0", line])
    with pytest.raises(lists.ListFormatError, match=message) as raised:
        lists.load_list("rawframes", [listed], str(tmp_path), str(tmp_path / "labels.txt"))
    assert f"{listed}:2" in str(raised.value)


# --- what serving sees --------------------------------------------------------------------

def test_the_shards_record_imported_flow_that_predict_replaces_by_its_variant(tmp_path):
    """tsn-train copies this record into preprocessing.json; tsn-predict's `options_for`
    computes the variant the imported flow names (TF TV-L1 tvl1_tsn), refuses a name it
    cannot compute until --flow_algorithm picks one."""
    from tsn_tf.input.contract import preprocessing
    from tsn_tf.input.ingestion import encode

    write_folder(tmp_path / "frames" / "v_a", 3, 2)
    options = rawframes.ImportOptions(imported_flow="tvl1_tsn")
    import_tree(tmp_path, ["v_a 3 0"], options)
    recorded = preprocessing.Preprocessing.from_shard(
            str(tmp_path / "out" / "train-00000-of-00001.tfrecord"))
    assert recorded.flow_algorithm == "imported:tvl1_tsn"
    width, height = (int(v) for v in recorded.resize.split("x"))  # the frames' own size
    assert (width, height) == (32, 24) and recorded.jpeg_quality == 95
    assert recorded.flow_parameters["imported"] == "tvl1_tsn"
    assert encode.options_for(recorded, ["flow"]).flow_algorithm == "tvl1_tsn"
    assert encode.options_for(recorded, ["flow"]).size == (32, 24)
    unnamed = recorded.overridden(flow_algorithm="imported:unspecified")
    with pytest.raises(ValueError, match="The model's flow was made with "
                       "'imported:unspecified', which cannot be computed here"):
        encode.options_for(unnamed, ["flow"])
    used = recorded.overridden(flow_algorithm="tvl1")
    assert encode.options_for(used, ["flow"]).flow_algorithm == "tvl1"
    assert recorded.differences(used, "flow") == [
        "flow_algorithm='tvl1' (training: 'imported:tvl1_tsn')"]
