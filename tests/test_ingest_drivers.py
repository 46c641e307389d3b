"""Ingestion drivers end to end on real clips: local pool, CLI, resume, Beam, URLs."""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from tsn_tf.input.ingestion import encode, ingest_local, lists, shards, video
from tsn_tf.input.contract import layout, schema

DIS = encode.IngestOptions(flow_algorithm="dis")
CLI = [sys.executable, "-m", "tsn_tf.input.ingestion.ingest_main"]


def make_dataset(root, data_dir, broken=True):
    """Class folders of real clips (plus broken files) and a CSV list naming them."""
    videos = root / "videos"
    for relative, source in (("run/a.mp4", "part_0.mp4"), ("run/b.mp4", "part_0.mp4"),
                             ("walk/c.avi", "test.avi"), ("walk/d.mp4", "part_0.mp4")):
        (videos / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / source, videos / relative)
    rows = ["run/a.mp4,run", "run/b.mp4,run,test", "walk/c.avi,walk", "walk/d.mp4,walk"]
    if broken:
        clip = (data_dir / "part_0.mp4").read_bytes()
        (videos / "walk/cut.mp4").write_bytes(clip[:len(clip) // 2])
        (videos / "walk/garbage.avi").write_bytes(os.urandom(5000))
        (videos / "walk/empty.mp4").write_bytes(b"")
        rows += ["walk/cut.mp4,walk", "walk/garbage.avi,walk", "walk/empty.mp4,walk",
                 "walk/missing.mp4,walk"]
    list_file = root / "list.csv"
    list_file.write_text("\n".join(rows) + "\n")
    return videos, list_file


def read_records(output, pattern="*.tfrecord"):
    """media_id -> serialized full SequenceExample for every shard matching `pattern`."""
    records = {}
    for path in tf.io.gfile.glob(f"{output}/{pattern}"):
        for example in layout.read_videos(path):
            records[schema.media_id_of(example)] = example.SerializeToString()
    return records


def assert_same_records(actual, expected):
    """Byte-equal records per media id; on a mismatch, names the fields that differ."""
    assert sorted(actual) == sorted(expected)
    for media_id in expected:
        if actual[media_id] != expected[media_id]:
            left = vars(schema.from_sequence_example(actual[media_id]))
            right = vars(schema.from_sequence_example(expected[media_id]))
            fields = {k: [i for i, (a, b) in enumerate(zip(left[k], right[k])) if a != b]
                      if isinstance(left[k], list) else (left[k], right[k])
                      for k in left if left[k] != right[k]}
            pytest.fail(f"{media_id}: records differ in {fields}")


def mtimes(output):
    return {p.name: p.stat().st_mtime_ns for p in output.glob("*.tfrecord")}


# --- shard plan ----------------------------------------------------------------

def test_plan_is_deterministic_balanced_and_per_split():
    entries = [lists.VideoEntry(f"v{i}", f"/v{i}.mp4", ("a",), "train" if i < 10 else "test")
               for i in range(13)]
    plan = shards.plan_shards(entries, num_shards=4)
    assert plan == shards.plan_shards(list(reversed(entries)), num_shards=4)
    assert [s.name for s in plan] == [
        "test-00000-of-00003.tfrecord", "test-00001-of-00003.tfrecord",
        "test-00002-of-00003.tfrecord", "train-00000-of-00004.tfrecord",
        "train-00001-of-00004.tfrecord", "train-00002-of-00004.tfrecord",
        "train-00003-of-00004.tfrecord"]
    assert [len(s.entries) for s in plan] == [1, 1, 1, 3, 3, 2, 2]
    assert sorted(e.media_id for s in plan for e in s.entries) == sorted(e.media_id
                                                                         for e in entries)
    assert [s.count for s in shards.plan_shards(entries, videos_per_shard=4)] == [1, 3, 3, 3]
    with pytest.raises(ValueError, match="exactly one of num_shards or videos_per_shard"):
        shards.plan_shards(entries)


def test_done_markers_carry_the_shard_layout():
    # a rerun over shards of another layout must rewrite them, not keep them
    assert shards.LAYOUT_VERSION.encode() == layout.FOOTER_MAGIC
    spec = shards.plan_shards([lists.VideoEntry("v", "/v.mp4", ("a",), "train")], 1)[0]
    current = shards.fingerprint(spec, {"a": 0}, DIS)
    shards.LAYOUT_VERSION, saved = "OLD", shards.LAYOUT_VERSION
    try:
        assert shards.fingerprint(spec, {"a": 0}, DIS) != current
    finally:
        shards.LAYOUT_VERSION = saved


def test_aspect_change_is_1_for_the_rounding_of_short_side_only():
    # 16:9 at --short_side=40: 71.1 px stored as 72 (x1.0125, more than ASPECT_TOLERANCE)
    assert video.output_size((1280, 720), short_side=40) == (72, 40)
    assert video.output_size((720, 1280), short_side=40) == (40, 72)
    assert shards.aspect_change((72, 40), (1280, 720)) == 1.0
    assert shards.aspect_change((40, 72), (720, 1280)) == 1.0
    assert shards.aspect_change((340, 256), (340, 256)) == 1.0
    # --frame_size=340x256 squashes: 4:3 by x0.996 (within the tolerance), 426x240 by x0.748
    assert shards.aspect_change((340, 256), (320, 240)) == pytest.approx(0.99609375)
    assert shards.aspect_change((340, 256), (426, 240)) == pytest.approx(
        (340 / 256) / (426 / 240))
    assert shards.aspect_change((74, 40), (1280, 720)) == pytest.approx(74 / 40 * 9 / 16)


def test_relayout_names_a_shard_it_cannot_convert_and_leaves_no_temp(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    good = schema.VideoRecord(media_id="v", label_indices=[0], label_strings=["a"], height=8,
                              width=8, frame_rate=1.0, rgb_jpegs=[b"\xff\xd8\xff"],
                              timestamps_us=[0])
    with tf.io.TFRecordWriter(str(source / "old.tfrecord")) as writer:
        writer.write(schema.to_sequence_example(good).SerializeToString())
    data = (source / "old.tfrecord").read_bytes()
    (source / "zcut.tfrecord").write_bytes(data + data[:-9])  # old layout, cut in record 2
    output = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "tsn_tf.input.ingestion.relayout_main",
                             f"--input={source}/*.tfrecord", f"--output={output}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: {source}/zcut.tfrecord: record 2 is no video of the old layout (DataLossError")
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in output.iterdir()) == ["old.tfrecord"]


# --- local driver through the CLI ----------------------------------------------------

def run_cli(*flags, timeout=300):
    return subprocess.run(CLI + list(flags), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_cli_ingests_real_clips_records_failures_and_sets_exit_status(tmp_path, data_dir):
    videos, list_file = make_dataset(tmp_path, data_dir)
    output = tmp_path / "shards"
    flags = [f"--video_dir={videos}", "--list_format=csv", f"--list_files={list_file}",
             f"--output={output}", "--flow=dis", "--num_shards=2", "--workers=2"]
    first = run_cli(*flags, "--max_failures=3")
    assert first.returncode == 1, first.stderr
    assert "4 videos failed, more than --max_failures=3" in first.stderr
    assert "8/8 videos" in first.stderr and "video/s ETA" in first.stderr
    assert "failures 4" in first.stderr

    assert sorted(p.name for p in output.glob("*.tfrecord")) == [
        "test-00000-of-00001.tfrecord", "train-00000-of-00002.tfrecord",
        "train-00001-of-00002.tfrecord"]
    records = {k: schema.from_sequence_example(v) for k, v in read_records(output).items()}
    assert sorted(records) == ["run/a", "run/b", "walk/c", "walk/d"]
    for media_id, frames in (("run/a", 32), ("run/b", 32), ("walk/c", 164), ("walk/d", 32)):
        record = records[media_id]
        assert len(record.rgb_jpegs) == len(record.timestamps_us) == frames
        assert len(record.flow_x_jpegs) == len(record.flow_y_jpegs) == frames - 1
        assert (record.width, record.height) == (340, 256)
        assert record.flow_algorithm == "dis" and record.flow_bound == 20.0
    assert records["walk/c"].label_strings == ["walk"] and records["walk/c"].label_indices == [1]
    assert records["run/b"].data_path == str(videos / "run/b.mp4")
    assert (output / "label_map.txt").read_text() == "run\nwalk\n"

    manifest = json.loads((output / "manifest.json").read_text())
    reasons = {f["media_id"]: f["reason"] for f in manifest["failures"]}
    assert sorted(reasons) == ["walk/cut", "walk/empty", "walk/garbage", "walk/missing"]
    assert reasons["walk/missing"] == "file not found"
    assert reasons["walk/empty"].startswith("VideoDecodeError")
    assert reasons["walk/garbage"].startswith("VideoDecodeError")
    assert "cut.mp4" in reasons["walk/cut"]
    train = manifest["splits"]["train"]
    assert (train["videos_listed"], train["videos_ingested"], train["failures"]) == (7, 3, 4)
    assert train["class_counts"] == {"run": 1, "walk": 2}
    assert (train["rgb_frames"], train["flow_frames"]) == (32 + 164 + 32, 31 + 163 + 31)
    assert manifest["splits"]["test"]["class_counts"] == {"run": 1}
    assert manifest["options"]["flow_algorithm"] == "dis"

    before = mtimes(output)
    second = run_cli(*flags, "--max_failures=4")
    assert second.returncode == 0, second.stderr
    assert "resuming: 3 of 3 shards already complete" in second.stderr
    assert mtimes(output) == before


def test_cli_rejects_bad_flags_and_lists_naming_them(tmp_path, data_dir):
    videos, list_file = make_dataset(tmp_path, data_dir, broken=False)
    base = [f"--video_dir={videos}", "--list_format=csv", f"--output={tmp_path / 'out'}"]
    missing = run_cli(*base)
    assert missing.returncode == 2 and "--list_files is required" in missing.stderr
    absent = run_cli(*base, f"--list_files={tmp_path / 'nope.csv'}")
    assert absent.returncode == 2 and "--list_files: " in absent.stderr
    assert "nope.csv does not exist" in absent.stderr
    size = run_cli(*base, f"--list_files={list_file}", "--frame_size=340")
    assert size.returncode == 2 and "--frame_size must be WIDTHxHEIGHT" in size.stderr
    bad_list = tmp_path / "bad.csv"
    bad_list.write_text("run/a.mp4,run\nrun/a.mp4\n")
    malformed = run_cli(*base, f"--list_files={bad_list}")
    assert malformed.returncode == 2
    assert f"{bad_list}:2: expected 'path,label[;label...][,split]'" in malformed.stderr
    assert not (tmp_path / "out").exists()


# --- resume ---------------------------------------------------------------------------

def test_rerun_rewrites_only_missing_or_stale_shards(tmp_path, data_dir):
    videos, list_file = make_dataset(tmp_path, data_dir, broken=False)
    video_list = lists.parse_csv(str(list_file), str(videos))
    video_list = video_list._replace(entries=[e for e in video_list.entries
                                              if e.media_id != "walk/c"])  # the long clip
    output = tmp_path / "shards"
    progress_text = io.StringIO()
    ingest_local.ingest_local(video_list.entries, video_list.label_map, str(output), DIS,
                              num_shards=2, workers=0, progress_stream=progress_text)
    assert "3/3 videos" in progress_text.getvalue() and "ETA" in progress_text.getvalue()
    first_records = read_records(output)
    before = mtimes(output)
    assert len(before) == 3  # 2 train shards + 1 test shard
    deleted = "train-00001-of-00002.tfrecord"
    (output / deleted).unlink()
    time.sleep(0.01)
    manifest = ingest_local.ingest_local(video_list.entries, video_list.label_map, str(output),
                                         DIS, num_shards=2, workers=0,
                                         progress_stream=io.StringIO())
    after = mtimes(output)
    assert {k: v for k, v in after.items() if k != deleted} == \
        {k: v for k, v in before.items() if k != deleted}
    assert deleted in after
    assert_same_records(read_records(output), first_records)
    assert manifest["videos_ingested"] == 3

    # A video that was missing: kept as a failure, retried only when asked.
    late = lists.VideoEntry("walk/late", str(videos / "walk/late.mp4"), ("walk",), "train")
    entries = video_list.entries + [late]
    manifest = ingest_local.ingest_local(entries, video_list.label_map, str(output), DIS,
                                         num_shards=2, workers=0, progress_stream=io.StringIO())
    assert [f["reason"] for f in manifest["failures"]] == ["file not found"]
    shutil.copy(data_dir / "part_0.mp4", videos / "walk/late.mp4")
    with_failure = mtimes(output)
    assert ingest_local.ingest_local(entries, video_list.label_map, str(output), DIS,
                                     num_shards=2, workers=0,
                                     progress_stream=io.StringIO())["num_failures"] == 1
    assert mtimes(output) == with_failure
    manifest = ingest_local.ingest_local(entries, video_list.label_map, str(output), DIS,
                                         num_shards=2, workers=0, retry_failures=True,
                                         progress_stream=io.StringIO())
    assert manifest["num_failures"] == 0 and manifest["videos_ingested"] == 4
    changed = [name for name, mtime in mtimes(output).items() if with_failure[name] != mtime]
    assert len(changed) == 1 and "walk/late" in read_records(output, changed[0])

    # Other options make every shard stale: all are rewritten.
    bound = encode.IngestOptions(flow_algorithm="dis", flow_bound=10.0, modalities=("flow",))
    ingest_local.ingest_local(video_list.entries, video_list.label_map, str(output), bound,
                              num_shards=2, workers=0, progress_stream=io.StringIO())
    assert all(after[name] != mtime for name, mtime in mtimes(output).items())
    assert all(schema.from_sequence_example(r).flow_bound == 10.0
               for r in read_records(output).values())


@pytest.mark.slow
def test_resume_after_killed_run(tmp_path, data_dir):
    videos, list_file = make_dataset(tmp_path, data_dir, broken=False)
    output = tmp_path / "shards"
    flags = [f"--video_dir={videos}", "--list_format=csv", f"--list_files={list_file}",
             f"--output={output}", "--flow=dis", "--num_shards=3", "--workers=1"]
    process = subprocess.Popen(CLI + flags, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    state = output / shards.STATE_DIR
    deadline = time.time() + 120
    while not list(state.glob("*.json")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = {p.name[:-len(".json")] for p in state.glob("*.json")}
    assert 0 < len(done_before) < 4, "the kill should land between shards"
    survivors = {k: v for k, v in mtimes(output).items() if k in done_before}

    video_list = lists.parse_csv(str(list_file), str(videos))
    ingest_local.ingest_local(video_list.entries, video_list.label_map, str(output), DIS,
                              num_shards=3, workers=0, progress_stream=io.StringIO())
    after = mtimes(output)
    assert len(after) == 4 and {k: after[k] for k in survivors} == survivors
    assert not list(output.glob(".*.tmp-*"))
    fresh = tmp_path / "fresh"
    ingest_local.ingest_local(video_list.entries, video_list.label_map, str(fresh), DIS,
                              num_shards=3, workers=0, progress_stream=io.StringIO())
    assert_same_records(read_records(output), read_records(fresh))


# --- Beam and URLs ---------------------------------------------------------------------------

def test_beam_direct_runner_writes_the_same_records_as_the_local_driver(tmp_path, data_dir):
    from tsn_tf.input.ingestion import ingest_beam

    videos, list_file = make_dataset(tmp_path, data_dir, broken=False)
    (videos / "walk/garbage.avi").write_bytes(os.urandom(3000))
    with open(list_file, "a") as handle:
        handle.write("walk/garbage.avi,walk\n")
    video_list = lists.parse_csv(str(list_file), str(videos))
    entries = [e for e in video_list.entries if e.media_id != "walk/c"]  # skip the long clip
    local, beam = tmp_path / "local", tmp_path / "beam"
    local_manifest = ingest_local.ingest_local(entries, video_list.label_map, str(local), DIS,
                                               num_shards=2, workers=0,
                                               progress_stream=io.StringIO())
    beam_manifest = ingest_beam.ingest_beam(entries, video_list.label_map, str(beam), DIS,
                                            num_shards=2, runner="DirectRunner")
    local_records, beam_records = read_records(local), read_records(beam)
    assert sorted(beam_records) == ["run/a", "run/b", "walk/d"]
    assert_same_records(beam_records, local_records)
    for name in mtimes(local):
        assert (beam / name).read_bytes() == (local / name).read_bytes()
    assert beam_manifest == local_manifest
    assert [f["media_id"] for f in beam_manifest["failures"]] == ["walk/garbage"]
    assert (beam / "label_map.txt").read_text() == "run\nwalk\n"


def test_videos_and_shards_on_a_tf_filesystem_url(data_dir):
    root = f"ram://ingest_test_{os.getpid()}"
    tf.io.gfile.makedirs(f"{root}/videos/run")
    tf.io.gfile.copy(str(data_dir / "part_0.mp4"), f"{root}/videos/run/a.mp4")
    with tf.io.gfile.GFile(f"{root}/list.csv", "w") as handle:
        handle.write("run/a.mp4,run\nrun/missing.mp4,run\n")
    video_list = lists.parse_csv(f"{root}/list.csv", f"{root}/videos")
    manifest = ingest_local.ingest_local(video_list.entries, video_list.label_map,
                                         f"{root}/out", DIS, num_shards=1, workers=0,
                                         progress_stream=io.StringIO())
    records = read_records(f"{root}/out")
    record = schema.from_sequence_example(records["run/a"])
    assert len(record.rgb_jpegs) == 32 and record.data_path == f"{root}/videos/run/a.mp4"
    assert manifest["failures"][0]["reason"] == "file not found"
    assert tf.io.gfile.exists(f"{root}/out/manifest.json")
    assert tf.io.gfile.exists(f"{root}/out/label_map.txt")


# --- worker processes that die -----------------------------------------------------------

def test_a_video_that_kills_its_worker_becomes_a_failure_and_the_rest_survive():
    import worker_tasks

    entries = [lists.VideoEntry(name, f"/{name}.mp4", ("a",), "train")
               for name in ("v0", "v1", "crash", "v3", "v4", "v5", "v6")]
    log = io.StringIO()
    results = list(ingest_local.ordered_results(entries, worker_tasks.ok_unless_named_crash,
                                                2, log.write))
    assert [r.media_id for r in results] == [e.media_id for e in entries]
    assert [r.ok for r in results] == [True, True, False, True, True, True, True]
    assert results[2].reason == ingest_local.CRASH_REASON
    assert "a worker process died; rerunning" in log.getvalue()
    assert os.getpid() not in {r.num_frames for r in results}  # ran in worker processes


@pytest.mark.slow
def test_ingest_survives_a_worker_killed_mid_run(tmp_path, data_dir):
    import multiprocessing
    import threading

    videos, list_file = make_dataset(tmp_path, data_dir, broken=False)
    video_list = lists.parse_csv(str(list_file), str(videos))
    output = tmp_path / "shards"
    killed = []

    def kill_a_worker_after_the_first_shard():
        deadline = time.time() + 120
        while not list((output / shards.STATE_DIR).glob("*.json")) and time.time() < deadline:
            time.sleep(0.01)
        children = multiprocessing.active_children()
        if children:
            os.kill(children[0].pid, signal.SIGKILL)  # as the OOM killer would
            killed.append(children[0].pid)

    killer = threading.Thread(target=kill_a_worker_after_the_first_shard)
    killer.start()
    log = io.StringIO()
    manifest = ingest_local.ingest_local(video_list.entries, video_list.label_map, str(output),
                                         DIS, num_shards=3, workers=2, progress_stream=log)
    killer.join()
    assert killed and "a worker process died" in log.getvalue()
    assert manifest["num_failures"] == 0 and manifest["videos_ingested"] == 4
    fresh = tmp_path / "fresh"
    ingest_local.ingest_local(video_list.entries, video_list.label_map, str(fresh), DIS,
                              num_shards=3, workers=0, progress_stream=io.StringIO())
    assert_same_records(read_records(output), read_records(fresh))


# --- filesystems -----------------------------------------------------------------------------

def test_tensorflow_io_is_imported_only_for_schemes_tf_lacks():
    script = """if True:
        import sys
        from tsn_tf.input.ingestion import storage
        storage.ensure_filesystem("gs://bucket/x")
        print("after gs:", "tensorflow_io" in sys.modules)
        storage.ensure_filesystem("s3://bucket/x")
        print("after s3:", "tensorflow_io" in sys.modules,
              "s3" in storage.gfile().get_registered_schemes())
        try:
            storage.ensure_filesystem("nope://x")
        except ValueError as error:
            print(error)
        print("hard exit:", storage.needs_hard_exit("/local", "s3://b/out"),
              storage.needs_hard_exit("/local", "gs://b/out"))
    """
    # A process that touched s3 may abort at exit (tensorflow/io#2039): read its output only.
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert "after gs: False" in done.stdout, done.stderr
    assert "after s3: True True" in done.stdout
    assert "nope://x: no TensorFlow filesystem handles nope://" in done.stdout
    assert "hard exit: True False" in done.stdout
