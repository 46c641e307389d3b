"""Shared test set-up: quiet TensorFlow, paths to the real clips in tests/data."""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

DATA_DIR = pathlib.Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> pathlib.Path:
    """Folder of the real video clips (see tests/data/PROVENANCE.md)."""
    return DATA_DIR


def write_records(path, records) -> str:
    """Writes `schema.VideoRecord`s as the shard `path` (the `layout` tsn-ingest
    writes); returns it as str."""
    from tsn_tf.input.contract import layout, schema

    return layout.write_shard_file(str(path), map(schema.to_sequence_example, records))


def write_tiny_shards(folder, *, num_classes=3, videos_per_class=4, num_frames=12,
                      size=(40, 32), num_shards=2, seed=0, split="train"):
    """Writes real TFRecord shards of tiny videos whose class sets their colour and motion.

    Class c: RGB frames of a flat colour (hue by class) plus noise; flow x/y
    frames 128 + 30·(c - 1) plus noise. Returns the shard glob; label_map.txt
    is written beside the shards, as tsn-ingest does.
    """
    import numpy as np
    from tsn_tf.input.contract import layout, schema

    rng = np.random.default_rng(seed)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    palette = np.random.default_rng(1234).uniform(40, 215, (num_classes, 3))  # same for every seed
    writers = [layout.ShardWriter(str(folder / f"{split}-{i:05d}-of-{num_shards:05d}.tfrecord"))
               for i in range(num_shards)]
    for index in range(num_classes * videos_per_class):
        label = index % num_classes

        def frame(base, channels):
            noise = rng.normal(0, 12, (height, width, channels))
            return schema.jpeg_bytes(np.clip(base + noise, 0, 255).astype("uint8"))

        flow_value = 128 + 30 * (label - 1)
        record = schema.VideoRecord(
            media_id=f"{split}_{index:03d}", label_indices=[label], label_strings=[f"class_{label}"],
            height=height, width=width, frame_rate=25.0,
            rgb_jpegs=[frame(palette[label], 3) for _ in range(num_frames)],
            timestamps_us=[i * 40000 for i in range(num_frames)],
            flow_x_jpegs=[frame(flow_value, 1) for _ in range(num_frames - 1)],
            flow_y_jpegs=[frame(256 - flow_value, 1) for _ in range(num_frames - 1)],
            flow_bound=20.0, flow_algorithm="synthetic")
        writers[index % num_shards].add(schema.to_sequence_example(record))
    for writer in writers:
        writer.close()
    (folder / "label_map.txt").write_text("".join(f"class_{c}\n" for c in range(num_classes)))
    return str(folder / f"{split}-*.tfrecord")


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory):
    """Glob of two real shards with 12 tiny videos of 3 classes (see write_tiny_shards)."""
    return write_tiny_shards(tmp_path_factory.mktemp("tiny_shards"))


def write_vfr_video(path, *, rate=30, num_frames=90, gap_after=45, gap_ms=200,
                    size=(96, 64)):
    """An H.264 mp4 at `rate` fps whose frame `gap_after` comes `gap_ms` after the one
    before it (a variable-frame-rate file, written with PyAV); a bar moves right."""
    import fractions

    import av
    import numpy as np

    width, height = size
    time_base = fractions.Fraction(1, 15360)
    ticks, period = 0, 15360 // rate
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        for i in range(num_frames):
            image = np.full((height, width, 3), 40, np.uint8)
            image[:, (2 * i) % (width - 12):(2 * i) % (width - 12) + 12] = (250, 200, 40)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            ticks += 0 if i == 0 else (gap_ms * 15360 // 1000 if i == gap_after else period)
            frame.pts, frame.time_base = ticks, time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def pyav_timestamps_us(path):
    """Presentation timestamps of a file's video frames in microseconds, by PyAV:
    the packets' PTS, sorted (display order), minus the stream's start time."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        ticks = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
        return [round(float((t - start) * stream.time_base) * 1e6) for t in ticks]
