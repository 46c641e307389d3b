"""`make_dataset`: shards -> batches of normalized TSN clips, stage by stage.

    list files -> (shuffle files) -> interleave the shards' indexes, parse
    -> (cache) -> (shuffle videos) -> sample K segments -> read only the
    sampled frames' records (one byte run per snippet, `records.read_runs`)
    training:   -> decode only the crop window -> mirror, resize, normalize
                -> batch -> prefetch; with `defer_resize`: -> uint8 crops on
                a canvas -> batch -> prefetch (the train step runs
                `tsn_tf.ops.deferred.finish_deferred` on the accelerator)
    evaluation: -> decode -> stack modality -> eval views -> flip
                -> normalize -> batch -> prefetch

A clip reads its K·L frame records and its video's index record (101 kB for
98 kB of JPEGs, RGB K = 3, 340x256), never the rest of the video (shard
layout: `layout`). Resizing a crop to 224x224 in float costs about as much
as decoding it; `defer_resize` moves it to the accelerator (README, Speed).

Outputs of `make_dataset`:
- training: ``(clips, labels)`` with clips float32 (B, K, S, S, C·L); with
  `defer_resize` clips are the dict `finish_deferred` takes.
- evaluation: ``(clips, labels, extras)`` with clips float32
  (B, crops, K, S, S, C·L): crops is the view axis (1, 3 or 10; for 10 the
  5 unflipped views come first, then their 5 mirrors), cut from frames whose
  short side is rescaled to ``S * 256 // 224`` (tsn-pytorch's
  ``scale_size``; no resize for 340x256 frames and S = 224). As tsn-pytorch's
  test script, the evaluator scores all B·crops·K snippets, averages the
  pre-softmax scores over crops (axis 1), then applies the consensus over
  segments (for the average consensus, running the TSN model on clips
  reshaped to (B·crops, K, ...) and averaging over crops is the same).
  ``extras["media_id"]`` is a string (B,).
- untrimmed evaluation (`untrimmed_fps` set): K is the number of snippets of
  each video, padded to the longest in the batch; ``extras`` adds
  ``timestamps`` float32 (B, K), the seconds of each snippet's first frame
  (its stored presentation timestamp), and ``num_snippets`` int32 (B,).
  Snippets start every ``frame_rate / untrimmed_fps`` frames; with
  `snippet_interval` instead they are centred on frames ``interval // 2 +
  t * interval`` (`sampling.interval_centres`) and ``timestamps`` are the
  centre frames' times. A 3-minute
  video at 1 snippet/s with 10 crops is 1800 snippets (~1 GB at 224x224
  RGB): use batch 1, fewer crops, or score it in pieces.

Labels: int32 (B,) class index (the first of ``clip/label/index``), or with
`multi_label` a float32 (B, num_classes) multi-hot vector.
"""
import dataclasses
import functools
from typing import List, Optional, Sequence, Tuple, Union

import tensorflow as tf

from tsn_tf.input.contract import layout
from tsn_tf.input.pipeline import eval_views
from tsn_tf.input.pipeline import index
from tsn_tf.input.pipeline import modalities
from tsn_tf.input.pipeline import sampling
from tsn_tf.input.pipeline import snippet_frames
from tsn_tf.input.pipeline import train_clips

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """What every clip of one video stream is made of: the per-clip stages' arguments."""
    stream: modalities.Stream
    modality: str
    length: int                     # L: frames (flow fields, differences) per snippet
    output_size: int                # S: side of the model input
    mean_vector: Tuple[float, ...]  # normalization per snippet channel, 0..255 scale
    std_vector: Tuple[float, ...]

    @classmethod
    def of(cls, modality: str, snippet_length: Optional[int], output_size: int, mean, std):
        stream = modalities.get_stream(modality)
        length = snippet_length or stream.default_length
        mean_vector, std_vector = modalities.normalization(mean, std, modality, stream.jpeg_channels
                                                           * len(stream.keys) * length)
        return cls(stream, modality, length, output_size, mean_vector, std_vector)

    @property
    def items(self) -> int:
        """Frames a snippet reads (rgb_diff: L + 1)."""
        return self.length + self.stream.extra_frames

    @property
    def channels(self) -> int:
        return len(self.mean_vector)

    def view_args(self) -> dict:
        """Keyword arguments of `train_clips.finish_clip` and `eval_views.eval_views`."""
        return dict(stream=self.stream, modality=self.modality, length=self.length,
                    output_size=self.output_size, mean_vector=self.mean_vector,
                    std_vector=self.std_vector)


def make_dataset(file_pattern: Union[str, Sequence[str]], *, modality: str,
                 num_segments: int, training: bool, batch_size: int,
                 mean, std, output_size: int = 224, snippet_length: Optional[int] = None,
                 eval_crops: int = 1, untrimmed_fps: Optional[float] = None,
                 num_classes: Optional[int] = None, multi_label: bool = False,
                 shuffle_buffer: int = 1024, cache: bool = False, seed: Optional[int] = None,
                 deterministic: bool = False, skip_corrupt: bool = False,
                 drop_remainder: Optional[bool] = None, repeat: bool = False,
                 snippets_per_chunk: Optional[int] = None, snippet_interval: Optional[int] = None,
                 media_ids: Optional[Sequence[str]] = None, defer_resize: bool = False,
                 canvas_size: Optional[int] = None) -> tf.data.Dataset:
    """Batches of TSN clips from indexed shards (`layout`; see the module doc).

    Args:
      file_pattern: glob (any TF filesystem) or list of globs of tsn-ingest shards.
      modality: "rgb", "flow", "warped_flow", "rgb_diff", or "audio": log-mel
        patches by `audio_dataset.make_audio_dataset` (scalar mean/std on
        log-mel values; output_size, snippet_length and eval_crops do not
        apply: one view).
      num_segments: K (paper: 3 training, 25 evaluation); ignored when untrimmed.
      training: random sampling, multi-scale crop and flip, shuffling;
        otherwise segment centres and `eval_crops` fixed views.
      batch_size: clips per batch.
      mean, std: normalization on the 0..255 scale, ``(x - mean) / std``: a
        scalar, one value per stored channel (RGB order), or one per snippet
        channel (backbone spec: rgb_mean/rgb_std or flow_mean/flow_std).
      output_size: side of the square model input.
      snippet_length: L; default 1 for rgb, 5 otherwise (rgb_diff reads L+1
        frames and gives L differences).
      eval_crops: 1 (centre), 3 or 10 views in evaluation.
      untrimmed_fps: evaluation of untrimmed videos: snippets per second
        across the whole video instead of K segments (M-TWI: 1.0).
      num_classes: number of classes; required with `multi_label`, and when
        given labels are checked to lie in [0, num_classes).
      multi_label: multi-hot labels instead of one index.
      shuffle_buffer: videos in the training shuffle buffer (index entries:
        a few kB each).
      cache: cache the parsed index in memory after the first pass (frames
        are always read from the shards).
      seed: seed of shuffling and augmentation; with `deterministic=True`
        two iterations over the same files give the same batches.
      deterministic: keep the order of parallel stages fixed (always so in
        evaluation, where videos come out in shard order).
      skip_corrupt: skip bad files and records with a logged warning instead
        of failing with an error that names the file.
      drop_remainder: drop a last partial batch; default `training`.
      repeat: repeat the videos endlessly (before shuffling and batching, so
        batches run across epochs: the paper's schedules count iterations).
      snippet_interval: untrimmed evaluation with the snippets of BSN / BMN
        features instead of `untrimmed_fps`: one snippet centred every
        `snippet_interval` frames (>= the frames a snippet reads).
      media_ids: evaluation only: the videos to read (the others' index records
        are dropped, no frame of theirs is read); None: all.
      snippets_per_chunk: untrimmed only: split each video into consecutive
        elements of at most this many snippets, so decoded memory stays
        bounded however long the video; ``extras`` then add ``chunk`` and
        ``num_chunks`` (int32), and ``timestamps`` / ``num_snippets`` are
        the chunk's. Chunks of one video arrive in order.
      defer_resize: training only: leave resizing, mirroring and
        normalization to the training step (`finish_deferred`, on the
        accelerator). Clips are then ``{"frames": uint8 (B, K, I, P, P, c),
        "crop_size": int32 (B, 2), "flip": bool (B,)}``, the crops on a P x P
        canvas (see `finish_deferred`): ~3x fewer bytes to batch and copy and
        no per-pixel float work on the CPU.
      canvas_size: P with `defer_resize`; default `default_canvas_size`
        (258 for 224 inputs: crops of frames with a 256-pixel short side).
    Returns:
      A `tf.data.Dataset` (see the module doc for the element structure).
    """
    deterministic = deterministic or not training
    _check_arguments(modality, training, defer_resize, multi_label, num_classes, untrimmed_fps,
                     snippet_interval, media_ids)
    if modality == "audio":
        return _audio_dataset(file_pattern, num_segments=num_segments, training=training,
                              batch_size=batch_size, mean=mean, std=std,
                              num_classes=num_classes, multi_label=multi_label,
                              shuffle_buffer=shuffle_buffer, cache=cache,
                              seed=seed, deterministic=deterministic, skip_corrupt=skip_corrupt,
                              drop_remainder=drop_remainder, repeat=repeat)
    spec = ClipSpec.of(modality, snippet_length, output_size, mean, std)
    if snippet_interval is not None:
        sampling.check_interval(snippet_interval, spec.items, modality)
    label = functools.partial(index.labels, num_classes=num_classes, multi_label=multi_label)

    # 1. Index: one parsed index record per video, shards interleaved; no frame read yet.
    untrimmed = untrimmed_fps is not None or snippet_interval is not None
    parse = index.index_parser(spec.stream, timestamps=untrimmed)
    videos = index.read_shards(*layout.list_shards(file_pattern), parse, training=training,
                               seed=seed, deterministic=deterministic, skip_corrupt=skip_corrupt)
    if media_ids is not None:
        videos = videos.filter(_media_id_filter(media_ids))
    videos = videos.cache() if cache else videos
    videos = videos.repeat() if repeat else videos

    # 2-4. Sample segments, read only their frames' records, decode, augment or cut views.
    snippets = functools.partial(_untrimmed_snippets, spec=spec, untrimmed_fps=untrimmed_fps,
                                 snippet_interval=snippet_interval) if untrimmed else None
    if training:
        videos = videos.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        clips = _training_clips(videos, spec, label, num_segments=num_segments, seed=seed,
                                deterministic=deterministic, defer_resize=defer_resize,
                                canvas_size=canvas_size)
    elif untrimmed and snippets_per_chunk:
        clips = videos.flat_map(lambda features: _untrimmed_chunks(
                features, spec, label, snippets, snippets_per_chunk, eval_crops))
    else:
        clips = videos.map(lambda features: _evaluation_clip(
                features, spec, label, num_segments, snippets, eval_crops),
                num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    clips = clips.ignore_errors(log_warning=True) if skip_corrupt else clips

    # 5. Batch (untrimmed: padded to the longest video) and prefetch.
    drop = training if drop_remainder is None else drop_remainder
    clips = (clips.padded_batch(batch_size, drop_remainder=drop) if untrimmed
             else clips.batch(batch_size, drop_remainder=drop))
    options = tf.data.Options()
    options.deterministic = deterministic
    return clips.prefetch(AUTOTUNE).with_options(options)


def _check_arguments(modality, training, defer_resize, multi_label, num_classes, untrimmed_fps,
                     snippet_interval, media_ids):
    if defer_resize and (not training or modality == "audio"):
        raise ValueError("defer_resize is for training the video streams. Received: "
                         f"defer_resize={defer_resize}, training={training}, "
                         f"modality={modality!r}")
    if modality == "audio":
        if untrimmed_fps is not None or snippet_interval is not None or media_ids is not None:
            raise ValueError("The audio stream has no untrimmed mode and reads every video. "
                             f"Received: untrimmed_fps={untrimmed_fps}, snippet_interval="
                             f"{snippet_interval}, media_ids={media_ids}")
        return
    modalities.get_stream(modality)
    if multi_label and num_classes is None:
        raise ValueError("multi_label=True needs num_classes. Received: num_classes=None")
    if untrimmed_fps is not None and (training or untrimmed_fps <= 0):
        raise ValueError("untrimmed_fps is for evaluation and must be > 0. Received: "
                         f"untrimmed_fps={untrimmed_fps}, training={training}")
    if media_ids is not None and training:
        raise ValueError("media_ids selects videos for evaluation, not training")
    if snippet_interval is not None and (training or untrimmed_fps is not None):
        raise ValueError("snippet_interval is for evaluation, in place of untrimmed_fps. "
                         f"Received: snippet_interval={snippet_interval}, "
                         f"untrimmed_fps={untrimmed_fps}, training={training}")


@dataclasses.dataclass(frozen=True)
class IndexedVideo:
    """One video of the shards as its index records it."""
    media_id: str
    num_frames: int    # frames of the modality's stream (flow: one fewer than RGB)
    frame_rate: float  # stored frames per second (0: not recorded)


def list_videos(file_pattern: Union[str, Sequence[str]], modality: str) -> List[IndexedVideo]:
    """The videos of the shards in the order evaluation reads them; reads only their indexes."""
    parse = index.index_parser(modalities.get_stream(modality))
    videos = index.read_shards(*layout.list_shards(file_pattern), parse, training=False,
                               seed=None, deterministic=True, skip_corrupt=False)
    return [IndexedVideo(features["media_id"].numpy().decode(),
                       max(int(tf.size(features["offsets"])) - 1, 0),
                       float(features["frame_rate"]))
            for features in videos]


def _training_clips(videos, spec: ClipSpec, label, *, num_segments, seed, deterministic,
                    defer_resize, canvas_size):
    """(clip, label) per video: random segments, multi-scale crop decoded, flip;
    finished here or left on a canvas for the training step (`defer_resize`)."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    canvas = canvas_size or train_clips.default_canvas_size(spec.output_size)
    sampling_args = dict(stream=spec.stream, num_segments=num_segments, length=spec.length)

    def make(features, clip_seed):
        jpegs = snippet_frames.train_jpegs(features, clip_seed, **sampling_args)
        items, flip = train_clips.train_items(jpegs, clip_seed, output_size=spec.output_size,
                                              **sampling_args)
        items = tf.ensure_shape(items, [num_segments, spec.items * len(spec.stream.keys),
                                        None, None, spec.stream.jpeg_channels])
        if defer_resize:
            clip = train_clips.deferred_clip(items, flip, canvas_size=canvas)
        else:
            clip = tf.ensure_shape(train_clips.finish_clip(items, flip, **spec.view_args()),
                                   [num_segments, spec.output_size, spec.output_size,
                                    spec.channels])
        return clip, label(features)

    return tf.data.Dataset.zip((videos, seeds)).map(make, num_parallel_calls=AUTOTUNE,
                                                    deterministic=deterministic)


def _media_id_filter(media_ids: Sequence[str]):
    """A `Dataset.filter` predicate keeping the index records of `media_ids` (a hash lookup)."""
    if not media_ids:
        return lambda features: tf.constant(False)
    wanted = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(media_ids), tf.string), tf.ones([len(media_ids)], tf.int32)), 0)
    return lambda features: wanted.lookup(features["media_id"]) > 0


def _untrimmed_snippets(features, *, spec: ClipSpec, untrimmed_fps, snippet_interval):
    """(start frames, frames whose times are the timestamps) of an untrimmed video's snippets."""
    count = index.frame_count(features, spec.stream)
    if snippet_interval is not None:
        centres = sampling.interval_centres(count, snippet_interval)
        return sampling.centred_offsets(centres, spec.items), centres
    offsets = index.untrimmed_offsets(features, count, untrimmed_fps)
    return offsets, offsets


def _evaluation_clip(features, spec: ClipSpec, label, num_segments, snippets, eval_crops,
                     positions=None):
    """(views, label, extras) of one video: K segment centres, or its untrimmed `snippets`
    (`_untrimmed_snippets`; `positions`, (offsets, time frames) of one chunk, when given)."""
    count = index.frame_count(features, spec.stream)
    if snippets is None:
        offsets = sampling.eval_offsets(count, num_segments, spec.items)
    else:
        offsets, time_frames = positions if positions is not None else snippets(features)
    jpegs = snippet_frames.snippet_jpegs(features, offsets, spec.items, count, spec.stream)
    views = eval_views.eval_views(jpegs, eval_crops=eval_crops, **spec.view_args())
    extras = {"media_id": features["media_id"]}
    if snippets is not None:
        extras["timestamps"] = index.snippet_times(features, time_frames)
        extras["num_snippets"] = tf.size(offsets)
    return views, label(features), extras


def _untrimmed_chunks(features, spec: ClipSpec, label, snippets, snippets_per_chunk,
                      eval_crops):
    """Dataset of one untrimmed video's consecutive chunks of <= `snippets_per_chunk` snippets."""
    offsets, time_frames = snippets(features)
    num_chunks = (tf.size(offsets) + snippets_per_chunk - 1) // snippets_per_chunk

    def chunk(number):
        number = tf.cast(number, tf.int32)
        part = slice(number * snippets_per_chunk, (number + 1) * snippets_per_chunk)
        views, labels, extras = _evaluation_clip(features, spec, label, None, snippets,
                                                 eval_crops, (offsets[part], time_frames[part]))
        return views, labels, dict(extras, chunk=number, num_chunks=num_chunks)
    return tf.data.Dataset.range(tf.cast(num_chunks, tf.int64)).map(chunk)


def _audio_dataset(file_pattern, **kwargs):
    from tsn_tf.input.pipeline import audio_dataset  # it imports this room's readers

    return audio_dataset.make_audio_dataset(file_pattern, **kwargs)
