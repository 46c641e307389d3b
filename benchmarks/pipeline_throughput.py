"""Training clips/s of the TSN input pipeline against the JPEG-decode limit.

Writes synthetic 340x256 videos (smoothed noise drifting over time, so the
JPEGs have realistic sizes; flow is smoothed noise around 128) to shards in
a temporary folder, then in one run, on all cores, measures for RGB (K=3,
L=1) and flow (K=3, L=5) at 224x224, batch 32:

  limit      - a tf.data pipeline that only decodes exactly the K·L sampled
               JPEGs of each clip (held in memory; map_fn decode, AUTOTUNE);
  pipeline   - `make_dataset(..., training=True)` as by default (the paper's
               sampling: one clip per video per epoch), reading only the
               sampled frames' records, crops resized and normalized in tf.data;
  step       - `defer_resize=True`: uint8 crops batched, resizing left to the
               train step on the accelerator (`finish_deferred`);
  finish/CPU - `finish_deferred` alone on this CPU (what the step adds when
               there is no accelerator); finish/XLA: its matmul method
               compiled by XLA on this CPU (what an `--xla` step runs);
  tsn-pytorch - tsn-pytorch's own train_loader (its TSNDataSet and Group*
               transforms, BNInception settings, --tsn_pytorch_workers
               DataLoader workers) on the same JPEGs written as frame files,
               run by tsn_pytorch_loader.py in a child process that never
               imports TensorFlow; needs --tsn_pytorch, a checkout of
               github.com/yjxiong/tsn-pytorch (see tsn_pytorch_loader.py);
  ratio      - each pipeline / limit (target >= 0.7), and pipeline and step
               / tsn-pytorch;
and with --stages the pipeline cut one stage after another (index read+parse,
+sample+read the frame records, +decode of the crop window, +canvas). It
prints the bytes a training clip reads (its frame records with their
framing, from the shard index, plus its video's index record) against the
sampled JPEG bytes. Measurements are interleaved and the best of `--repeats`
is kept, since the machine may be shared.

    .venv/bin/python benchmarks/pipeline_throughput.py [--videos 16] [--frames 150] [--stages]
    .venv/bin/python benchmarks/pipeline_throughput.py --real tests/data  # real clips instead
    git clone https://github.com/yjxiong/tsn-pytorch /tmp/tsn-pytorch
    .venv/bin/python benchmarks/pipeline_throughput.py --tsn_pytorch /tmp/tsn-pytorch

With --real, every video file in the folder is ingested (340x256, DIS flow,
JPEG quality 95) in place of the synthetic videos.

The shards hold --videos_per_shard videos each (default 100, tsn-ingest's
default), in --shards files: copies of the distinct videos under their own
media ids. A shard's index is read once per epoch, so few videos per shard
would charge every clip a large share of it (4 per shard: 0.17 ms of CPU
per RGB clip, 100 per shard: 0.11 ms). The limit and tsn-pytorch read the
distinct videos (the same bytes).

Rates are printed as wall clips/s and cpu-normalized clips/s (clips per
CPU-second of the process timed, with its workers, x cores), the steadier one
on a shared machine.
"""
import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import tensorflow as tf

import clip_rate
import tsn_pytorch_loader
from tsn_tf.input.contract import layout, schema
from tsn_tf.input.pipeline import (index, modalities, sampling, snippet_frames,
                                   train_clips)
from tsn_tf.input import pipeline
from tsn_tf.ops import deferred

SIZE = (256, 340)
OUTPUT = 224
CONFIGS = {"rgb": dict(num_segments=3, snippet_length=1, mean=(123.7, 116.8, 103.9),
                       std=(58.4, 57.1, 57.4)),
           "flow": dict(num_segments=3, snippet_length=5, mean=128.0, std=64.0)}


# --- data --------------------------------------------------------------------

def _smooth_noise(rng, shape, sigma):
    noise = rng.integers(0, 256, shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    return noise


def synthetic_video(rng, media_id, num_frames):
    """A VideoRecord of drifting textured RGB frames and noisy flow."""
    height, width = SIZE
    texture = _smooth_noise(rng, (height + 64, width + 64 + num_frames, 3), 4.0)
    detail = _smooth_noise(rng, (height + 64, width + 64 + num_frames, 3), 1.0)
    canvas = np.clip(128 + 45 * texture + 12 * detail, 0, 255).astype(np.uint8)
    rgb, flow_x, flow_y = [], [], []
    for i in range(num_frames):
        rgb.append(schema.jpeg_bytes(canvas[32:32 + height, i:i + width]))
        if i:
            flow = _smooth_noise(rng, (height, width, 2), 6.0)
            flow = np.clip(128 + 20 * flow, 0, 255).astype(np.uint8)
            flow_x.append(schema.jpeg_bytes(flow[..., 0]))
            flow_y.append(schema.jpeg_bytes(flow[..., 1]))
    return schema.VideoRecord(
            media_id=media_id, label_indices=[int(rng.integers(101))], label_strings=["c"],
            height=height, width=width, frame_rate=30.0, rgb_jpegs=rgb,
            timestamps_us=[int(i * 1e6 / 30) for i in range(num_frames)],
            flow_x_jpegs=flow_x, flow_y_jpegs=flow_y)


def real_videos(folder):
    """The videos of `folder` ingested as tsn-ingest would (340x256, DIS flow, q95)."""
    from tsn_tf.input.ingestion import encode

    options = encode.IngestOptions(flow_algorithm="dis", jpeg_quality=95)
    paths = sorted(p for p in os.listdir(folder) if p.endswith((".mp4", ".avi")))
    return [encode.ingest_video(os.path.join(folder, p), media_id=p, label_indices=[0],
                                label_strings=["c"], options=options) for p in paths]


def write_shards(folder, videos, num_shards, videos_per_shard, prefix="train"):
    """Writes copies of the videos (media ids ``id#copy``) round-robin into
    `num_shards` shards of `videos_per_shard` (the ingestion's layout); returns the glob."""
    total = num_shards * videos_per_shard
    copies = [dataclasses.replace(videos[i % len(videos)],
                                  media_id=f"{videos[i % len(videos)].media_id}#{i}")
              for i in range(total)]
    for shard in range(num_shards):
        layout.write_shard_file(os.path.join(folder, f"{prefix}-{shard:05d}.tfrecord"),
                                map(schema.to_sequence_example, copies[shard::num_shards]))
    return os.path.join(folder, f"{prefix}-*.tfrecord")


# --- measured datasets -------------------------------------------------------

def clips_per_second(dataset, clips_per_element, seconds):
    """Clips/s of an endless `dataset` after a warm-up: (wall, cpu-normalized); see
    `clip_rate.clips_per_second`."""
    return np.array(clip_rate.clips_per_second(iter(dataset), clips_per_element, seconds))


def sampled_jpegs(videos, modality, num_clips, seed=0):
    """The K·L JPEGs of `num_clips` training samples: object array (clips, streams, K·L)."""
    rng = np.random.default_rng(seed)
    config = CONFIGS[modality]
    clips = []
    for i in range(num_clips):
        video = videos[i % len(videos)]
        streams = ([video.rgb_jpegs] if modality == "rgb"
                   else [video.flow_x_jpegs, video.flow_y_jpegs])
        count = len(streams[0])
        offsets = sampling.np_train_offsets(count, config["num_segments"],
                                            config["snippet_length"], rng)
        indices = sampling.np_snippet_indices(offsets, config["snippet_length"], count).ravel()
        clips.append([[stream[j] for j in indices] for stream in streams])
    return np.array(clips, dtype=object)


def decode_limit(videos, modality):
    """Endless dataset decoding exactly the sampled JPEGs of each clip, nothing else."""
    jpegs = sampled_jpegs(videos, modality, 256)
    channels = 3 if modality == "rgb" else 1
    decode = lambda clip: tf.map_fn(lambda s: modalities.decode_frames(s, channels), clip,
                                    fn_output_signature=tf.uint8)
    return (tf.data.Dataset.from_tensor_slices(jpegs).repeat()
            .map(decode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def full_pipeline(pattern, modality, batch_size, defer_resize=False):
    config = CONFIGS[modality]
    return pipeline.make_dataset(
            pattern, modality=modality, training=True, batch_size=batch_size,
            output_size=OUTPUT, shuffle_buffer=16, seed=0, repeat=True,
            defer_resize=defer_resize, **config)


def finish_on_cpu(inputs, modality, method="crop_and_resize"):
    """Endless `finish_deferred` of one deferred batch `inputs` held in memory
    (the matmul method compiled by XLA, as in an `--xla` train step)."""
    config = CONFIGS[modality]
    finish = tf.function(lambda batch: deferred.finish_deferred(
            batch, modality=modality, output_size=OUTPUT, mean=config["mean"], std=config["std"],
            snippet_length=config["snippet_length"], method=method),
            jit_compile=method == "matmul")
    return tf.data.Dataset.from_tensors(inputs).repeat().map(finish).prefetch(1)


def cut_pipeline(pattern, modality, stage, batch_size):
    """The training pipeline up to `stage`, each clip's result batched (so Python's
    per-element iteration is not counted)."""
    stream = modalities.get_stream(modality)
    config = CONFIGS[modality]
    paths, sizes = layout.list_shards(pattern)
    examples = index.read_shards(paths, sizes, index.index_parser(stream), training=True,
                                     seed=0, deterministic=False, skip_corrupt=False).repeat()
    if stage == "index":
        return examples.map(lambda f: tf.size(f["offsets"])).batch(batch_size)
    seeds = tf.data.Dataset.random(seed=0).batch(2)
    examples = tf.data.Dataset.zip((examples.shuffle(16, seed=0), seeds))
    common = dict(stream=stream, num_segments=config["num_segments"],
                  length=config["snippet_length"])
    gathered = lambda f, s: snippet_frames.train_jpegs(f, s, **common)
    items = lambda f, s: train_clips.train_items(gathered(f, s), s, output_size=OUTPUT, **common)
    if stage == "read":
        fn = lambda f, s: tf.strings.length(gathered(f, s))
    elif stage == "decode":
        fn = lambda f, s: tf.shape(items(f, s)[0])
    else:
        fn = lambda f, s: train_clips.deferred_clip(
                *items(f, s), canvas_size=train_clips.default_canvas_size(OUTPUT))
    return (examples.map(fn, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
            .prefetch(tf.data.AUTOTUNE))


def tsn_pytorch_rate(checkout, list_file, modality, batch_size, workers, seconds):
    """(wall, cpu-normalized) clips/s of tsn-pytorch's loader, timed in a child process."""
    command = [sys.executable, tsn_pytorch_loader.__file__, "--tsn_pytorch", checkout,
               "--list", list_file, "--modality", modality, "--batch_size", str(batch_size),
               "--workers", str(workers), "--seconds", str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"tsn-pytorch's loader failed:\n{done.stderr[-2000:]}")
    rates = json.loads(done.stdout.splitlines()[-1])
    return np.array([rates["wall"], rates["cpu"]])


# --- report ------------------------------------------------------------------

def sampled_bytes(videos, modality):
    return np.mean([sum(len(j) for stream in clip for j in stream)
                    for clip in sampled_jpegs(videos, modality, 256)])


def bytes_read_per_clip(pattern, modality, num_clips=256, seed=0):
    """Mean bytes one training clip reads: (frame records, index record), from the index.

    The frame records are the snippets' runs (`snippet_frames.snippet_jpegs`), 16
    bytes of framing each; the index record is the clip's video's (read once
    per epoch, i.e. per clip with one clip per video).
    """
    stream = modalities.get_stream(modality)
    config = CONFIGS[modality]
    items = config["snippet_length"] + stream.extra_frames
    key = schema.frame_offsets_key(stream.group)
    index = [video for path in sorted(tf.io.gfile.glob(pattern))
             for video in layout.read_index(path)]
    rng = np.random.default_rng(seed)
    frames, index_bytes = [], []
    for i in range(num_clips):
        video = index[i % len(index)]
        offsets = np.array(video.context.feature[key].int64_list.value)
        count = len(offsets) - 1
        starts = sampling.np_train_offsets(count, config["num_segments"], items, rng)
        ends = np.minimum(starts + items, count)
        frames.append(np.sum(offsets[ends] - offsets[starts]))
        index_bytes.append(video.ByteSize() + layout.RECORD_OVERHEAD_BYTES)
    return np.mean(frames), np.mean(index_bytes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--real", default="", help="folder of real videos to use instead")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--videos_per_shard", type=int, default=100,
                        help="videos in each shard (copies of the distinct ones)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modalities", default="rgb,flow")
    parser.add_argument("--stages", action="store_true", help="also time the cut pipelines")
    parser.add_argument("--tsn_pytorch", default="", help="checkout of tsn-pytorch to time "
                        "its own loader on the same frames (skipped without)")
    parser.add_argument("--tsn_pytorch_workers", type=int, default=os.cpu_count(),
                        help="its DataLoader workers")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()}")
    batch = args.batch_size
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        videos = (real_videos(args.real) if args.real else
                  [synthetic_video(rng, f"video{i}", args.frames) for i in range(args.videos)])
        print(f"videos: {len(videos)}, frames {[len(v.rgb_jpegs) for v in videos]}, "
              f"{videos[0].width}x{videos[0].height}; shards: {args.shards} x "
              f"{args.videos_per_shard} videos")
        pattern = write_shards(folder, videos, args.shards, args.videos_per_shard)
        if args.tsn_pytorch:
            frame_lists = tsn_pytorch_loader.write_frames(os.path.join(folder, "frames"), videos)
        else:
            print("tsn-pytorch: skipped (give --tsn_pytorch, a checkout of it)")
        for modality in args.modalities.split(","):
            deferred, _ = next(iter(full_pipeline(pattern, modality, batch, defer_resize=True)))
            best = {}
            for _ in range(args.repeats):
                rates = [(name, clips_per_second(dataset, per, args.seconds))
                         for name, dataset, per in [
                             ("limit", decode_limit(videos, modality), 1),
                             ("pipeline", full_pipeline(pattern, modality, batch), batch),
                             ("step", full_pipeline(pattern, modality, batch, True), batch),
                             ("finish/CPU", finish_on_cpu(deferred, modality), batch),
                             ("finish/XLA", finish_on_cpu(deferred, modality, "matmul"), batch)]]
                if args.tsn_pytorch:
                    rates.append(("tsn-pytorch", tsn_pytorch_rate(
                            args.tsn_pytorch, frame_lists[modality], modality, batch,
                            args.tsn_pytorch_workers, args.seconds)))
                for name, rate in rates:
                    best[name] = np.maximum(best.get(name, rate), rate)
            if args.stages:
                for stage in ["index", "read", "decode", "canvas"]:
                    best[f"cut:{stage}"] = clips_per_second(
                            cut_pipeline(pattern, modality, stage, batch), batch, args.seconds)
            print(f"\n{modality}: K={CONFIGS[modality]['num_segments']} "
                  f"L={CONFIGS[modality]['snippet_length']} {OUTPUT}x{OUTPUT} batch {batch}")
            print(f"  {'':12s} {'wall':>8s} {'cpu-norm':>9s} clips/s   ratio to limit (wall, cpu)")
            for name, (wall, cpu) in best.items():
                ratio = best[name] / best["limit"]
                shown = "" if name == "limit" or name.startswith(("cut:", "finish/")) \
                    else f"   {ratio[0]:.2f} {ratio[1]:.2f}"
                print(f"  {name:12s} {wall:8.1f} {cpu:9.1f}{shown}")
            if args.tsn_pytorch:
                pipeline_ratio, step_ratio = (best[name] / best["tsn-pytorch"]
                                              for name in ["pipeline", "step"])
                print(f"  ratio to tsn-pytorch (wall, cpu): pipeline {pipeline_ratio[0]:.2f} "
                      f"{pipeline_ratio[1]:.2f}, step {step_ratio[0]:.2f} {step_ratio[1]:.2f}")
            frames, index = bytes_read_per_clip(pattern, modality)
            jpegs = sampled_bytes(videos, modality)
            print(f"  bytes read per clip {(frames + index) / 1e3:.1f} kB (frame records "
                  f"{frames / 1e3:.1f} kB + index record {index / 1e3:.1f} kB); sampled JPEGs "
                  f"{jpegs / 1e3:.1f} kB; ratio {(frames + index) / jpegs:.2f}")


if __name__ == "__main__":
    main()
