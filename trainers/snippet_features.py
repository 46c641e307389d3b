"""Per-snippet features of the videos in shards, stream by stream and chunk by chunk.

Snippets are centred every `interval` frames of each stream
(`sampling.interval_centres`: mmaction2's ``UntrimmedSampleFrames``, the
snippets of BSN / BMN features): an RGB snippet is its centre frame, a flow
snippet the L = 5 flow frames ``c - 2 .. c + 2`` (the last repeated past the
end). Each snippet is cut into the run's evaluation views (centre crop, or
the 10 crops) and gives, averaged over views, the backbone's pooled features
(D) and the pre-softmax class scores (C).

A video's snippets arrive in chunks (`make_dataset(snippets_per_chunk=...)`),
so decoded memory does not grow with its length. Streams are read side by
side, one dataset each over the same shards in the same order; a video's
streams are concatenated over the first T snippets they all have (flow has
one frame fewer than RGB: BSN's ``readData`` also cuts to the shortest).
A video whose frames fail to read is reported and the others continue.
"""
import dataclasses
import os
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from tsn_tf import model as tsn_model
from tsn_tf.input import pipeline
from tsn_tf.input.contract.preprocessing import FLOW_MODALITIES
from tsn_tf.input.pipeline import sampling
from tsn_tf.trainers.model_dir import RunConfig, latest_checkpoint, restore_model

KINDS = ("features", "scores")  # what a stream gives per snippet
MODALITIES = ("rgb", "flow", "warped_flow", "rgb_diff")


@dataclasses.dataclass
class Stream:
    """One trained stream: its run settings, checkpoint and per-snippet model."""
    name: str
    model_dir: str
    checkpoint: str
    config: RunConfig
    model: keras.Model  # `tsn_model.snippet_model(..., features=True)`

    @property
    def modality(self) -> str:
        return self.config.modality

    def dims(self) -> Dict[str, int]:
        """Columns of each output: {"features": D, "scores": C}."""
        return {name: int(output.shape[-1]) for name, output in self.model.output.items()}


def check_modality(path: str, actual: str, given: str):
    """ValueError unless the model at `path`, of `actual` modality, is a video stream
    given as the `given` one."""
    if given not in MODALITIES:
        raise ValueError(f"Snippet features are for the video streams "
                         f"({', '.join(MODALITIES)}). Received: {given!r}")
    if actual != given:
        raise ValueError(f"{path} is a {actual} model, given as the {given} stream")


def load_stream(model_dir: str, modality: str) -> Stream:
    """The latest checkpoint of a tsn-train (or tsn-convert) run of `modality` as a `Stream`."""
    config = RunConfig.load(model_dir)
    check_modality(model_dir, config.modality, modality)
    checkpoint = latest_checkpoint(model_dir)
    model = tsn_model.snippet_model(restore_model(model_dir, 1, checkpoint), features=True)
    name = f"{os.path.basename(os.path.normpath(model_dir))}:{config.modality}"
    return Stream(name, model_dir, checkpoint, config, model)


@dataclasses.dataclass
class VideoFeatures:
    media_id: str
    times: np.ndarray                           # (T,) seconds of the centre frames
    outputs: List[Dict[str, np.ndarray]]        # per stream {"features": (T, D), "scores": (T, C)}


class VideoFailed(Exception):
    """Reading or scoring a video failed; `media_id` None: the one after the last finished."""

    def __init__(self, media_id, error: Exception):
        super().__init__(str(error))
        self.media_id, self.error = media_id, error


def stream_videos(stream: Stream, shards, media_ids: Sequence[str], *, interval: int,
                  eval_crops: int, snippets_per_chunk: int,
                  on_chunk: Optional[Callable[[int], None]] = None) -> Iterator[tuple]:
    """Yields (media_id, times (T,), {"features", "scores"}) of `media_ids` in shard order;
    `on_chunk(snippets)` after each chunk.

    Raises:
      VideoFailed: naming the video whose frames failed (None: the next one).
    """
    mean, std = stream.config.normalization()
    dataset = pipeline.make_dataset(
            shards, modality=stream.modality, num_segments=1, training=False, batch_size=1,
            mean=mean, std=std, output_size=stream.config.input_size, eval_crops=eval_crops,
            snippet_interval=interval, snippets_per_chunk=snippets_per_chunk,
            media_ids=media_ids, multi_label=True, num_classes=stream.config.num_classes)
    predict = tf.function(lambda clips: stream.model(clips, training=False),
                          reduce_retracing=True)
    current, parts, times, finished = None, [], [], True
    iterator = iter(dataset)
    while True:
        try:
            clips, _, extras = next(iterator)
            current = extras["media_id"][0].numpy().decode()
            finished = False
            count = int(extras["num_snippets"][0])
            outputs = predict(clips[0, :, :count])  # (crops, T, ...): the mean over views
        except StopIteration:
            return
        except tf.errors.OpError as error:
            raise VideoFailed(None if finished else current, error) from error
        parts.append({name: tf.reduce_mean(outputs[name], axis=0).numpy() for name in KINDS})
        times.append(extras["timestamps"][0, :count].numpy())
        if on_chunk is not None:
            on_chunk(count)
        if int(extras["chunk"][0]) == int(extras["num_chunks"][0]) - 1:
            finished = True
            yield current, np.concatenate(times), {
                    name: np.concatenate([part[name] for part in parts]) for name in KINDS}
            parts, times = [], []


def video_features(streams: Sequence[Stream], shards, media_ids: Sequence[str], *,
                   interval: int, eval_crops: int = 1, snippets_per_chunk: int = 32,
                   on_chunk: Optional[Callable[[int], None]] = None) -> Iterator[object]:
    """Yields per video of `media_ids` (shard order, each once) a `VideoFeatures`, or a
    `VideoFailed` when its frames fail to read or score; the videos after a failed one
    continue. `on_chunk(snippets)` after each chunk of the first stream.

    Every video must have at least one snippet in every stream (`sampling.interval_count`).
    """
    remaining = list(media_ids)
    while remaining:
        readers = [stream_videos(stream, shards, remaining, interval=interval,
                                 eval_crops=eval_crops, snippets_per_chunk=snippets_per_chunk,
                                 on_chunk=on_chunk if index == 0 else None)
                   for index, stream in enumerate(streams)]
        done = 0
        try:
            for results in zip(*readers):
                yield _joined(results)
                done += 1
            return
        except VideoFailed as failure:
            if done == len(remaining):  # after the last video: nothing left to blame
                raise failure.error
            failed = failure.media_id if failure.media_id in remaining[done:] \
                else remaining[done]
            yield VideoFailed(failed, failure.error)
            remaining = [m for m in remaining[done:] if m != failed]


def _joined(results) -> VideoFeatures:
    """One video's per-stream (media_id, times, outputs) from the streams' readers."""
    ids = {media_id for media_id, _, _ in results}
    if len(ids) != 1:  # the streams' datasets read the same shards in the same order
        raise RuntimeError(f"Streams out of step: {sorted(ids)}")
    return joined(results[0][0], [(times, outputs) for _, times, outputs in results])


def joined(media_id: str, streams: Sequence[tuple]) -> VideoFeatures:
    """A video's per-stream (times (T_s,), {"features", "scores"}) cut to the T snippets
    every stream has (flow has one frame fewer than RGB)."""
    count = min(len(times) for times, _ in streams)
    return VideoFeatures(media_id, streams[0][0][:count],
                         [{name: outputs[name][:count] for name in KINDS}
                          for _, outputs in streams])


@dataclasses.dataclass(frozen=True)
class ShardVideo:
    media_id: str
    frame_rate: float
    num_frames: int  # the video's RGB frames (a flow stream holds one fewer)
    snippets: int    # T: the snippets every stream has


def shard_videos(shards, streams: Sequence[Stream], interval: int) -> List[ShardVideo]:
    """The shards' videos in reading order, from their indexes only.

    Raises:
      ValueError: a media id is in the shards twice (its videos could not be told apart).
    """
    listings = [pipeline.list_videos(shards, stream.modality) for stream in streams]
    videos, seen = [], set()
    for entries in zip(*listings):
        media_id = entries[0].media_id
        if media_id in seen:
            raise ValueError(f"Video {media_id!r} is in the shards twice; give each video "
                             "its own media id")
        seen.add(media_id)
        frames = [entry.num_frames + (stream.modality in FLOW_MODALITIES)
                  for entry, stream in zip(entries, streams)]
        videos.append(ShardVideo(media_id, entries[0].frame_rate, max(frames), min(
                sampling.interval_count(entry.num_frames, interval) for entry in entries)))
    return videos
