"""The TSN tf.data input pipeline: shards -> batches of normalized snippets.

    list files -> (shuffle files) -> interleave shards, parse -> (cache)
    -> (shuffle examples) -> sample K segments -> gather the K·L sampled JPEGs
    -> decode (training: decode only the crop window) -> stack modality
    -> resize / eval views -> flip -> normalize -> batch -> prefetch

Outputs of `make_dataset`:
- training: ``(clips, labels)`` with clips float32 (B, K, S, S, C·L).
- evaluation: ``(clips, labels, extras)`` with clips float32
  (B, crops, K, S, S, C·L): crops is the view axis (1, 3 or 10; for 10 the
  5 unflipped views come first, then their 5 mirrors), cut from frames whose
  short side is rescaled to ``round(S * 256/224)`` (no resize for 340x256
  frames and S = 224). As tsn-pytorch's test script, the evaluator scores
  all B·crops·K snippets, averages the pre-softmax scores over crops (axis
  1), then applies the consensus over segments (for the average consensus,
  running the TSN model on clips reshaped to (B·crops, K, ...) and averaging
  over crops is the same). ``extras["media_id"]`` is a string (B,).
- untrimmed evaluation (`untrimmed_fps` set): K is the number of snippets of
  each video, padded to the longest in the batch; ``extras`` adds
  ``timestamps`` float32 (B, K) seconds and ``num_snippets`` int32 (B,).
  A 3-minute video at 1 snippet/s with 10 crops is 1800 snippets (~1 GB at
  224x224 RGB): use batch 1, fewer crops, or score it in pieces.

Labels: int32 (B,) class index (the first of ``clip/label/index``), or with
`multi_label` a float32 (B, num_classes) multi-hot vector.
"""
from typing import Optional, Sequence, Union

import tensorflow as tf

from tsn_tf.input import crops
from tsn_tf.input import modalities
from tsn_tf.input import records
from tsn_tf.input import sampling
from tsn_tf.input import schema

AUTOTUNE = tf.data.AUTOTUNE
REFERENCE_SCALE_RATIO = 256 / 224  # eval frames: short side 256 for 224 crops


# --- parse -------------------------------------------------------------------

def _feature_spec(frame_keys: Sequence[str]):
    context = {
        schema.MEDIA_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        schema.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
        schema.IMAGE_FRAME_RATE: tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
    }
    sequence = {key: tf.io.FixedLenSequenceFeature([], tf.string, allow_missing=True)
                for key in frame_keys}
    return context, sequence


def _parser(frame_keys: Sequence[str]):
    """Serialized SequenceExample -> dict of the fields the pipeline uses."""
    context_spec, sequence_spec = _feature_spec(frame_keys)

    def parse(serialized):
        context, sequence = tf.io.parse_single_sequence_example(
                serialized, context_features=context_spec, sequence_features=sequence_spec)
        return {
            "media_id": context[schema.MEDIA_ID],
            "labels": tf.sparse.to_dense(context[schema.LABEL_INDEX]),
            "frame_rate": context[schema.IMAGE_FRAME_RATE],
            "frames": sequence,
        }
    return parse


def _read_shards(paths, sizes, parse, *, training, seed, deterministic, skip_corrupt):
    """Dataset of parsed records (dicts with a `shard` path) over all files."""
    files = tf.data.Dataset.from_tensor_slices((paths, tf.constant(sizes, tf.int64)))
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def read(path, size):
        parsed = records.read_shard(path, size, parse, b"", skip_corrupt)
        return parsed.map(lambda features: {**features, "shard": path})

    return files.interleave(read, cycle_length=min(len(paths), 8), block_length=1,
                            num_parallel_calls=AUTOTUNE, deterministic=deterministic)


# --- one clip ----------------------------------------------------------------

def _check(condition, *message):
    """Assert op whose message joins string scalars (file, media id, ...)."""
    return tf.debugging.Assert(condition, [tf.strings.join(
            [tf.strings.as_string(m) if m.dtype != tf.string else m
             for m in map(tf.convert_to_tensor, message)])], summarize=1)


def _frame_count(features, stream: modalities.Stream):
    """Frames of the modality (flow: min of x and y), asserted > 0."""
    counts = [tf.size(features["frames"][key]) for key in stream.keys]
    count = tf.reduce_min(tf.stack(counts))
    check = _check(count > 0, "No frames under ", ",".join(stream.keys), " in video ",
                   features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return tf.identity(count)


def _labels(features, num_classes, multi_label):
    labels = tf.cast(features["labels"], tf.int32)
    where = [" in video ", features["media_id"], " of shard ", features["shard"]]
    checks = [] if multi_label else [_check(tf.size(labels) > 0, "No clip/label/index", *where)]
    if num_classes is not None:
        checks.append(_check(tf.reduce_all((labels >= 0) & (labels < num_classes)),
                             "Label outside [0, ", str(num_classes), ")", *where))
    with tf.control_dependencies(checks):
        if multi_label:
            return tf.reduce_max(tf.one_hot(labels, num_classes, dtype=tf.float32), axis=0)
        return tf.identity(labels[0])


def _stacked(decoded, stream, items_per_snippet):
    """Decoded per-key frames [(S·L, h, w, c)] -> (S, h, w, C·L) uint8."""
    if len(decoded) == 2:
        return modalities.stack_flow(*decoded, items_per_snippet)
    return modalities.stack_items(decoded[0], items_per_snippet)


def _resize(snippets, output_size: int):
    """uint8 (S, h, w, C) -> float32 (S, out, out, C) bilinear; a crop of the output size is cast."""
    shape = tf.shape(snippets)
    same = tf.logical_and(shape[1] == output_size, shape[2] == output_size)
    return tf.cond(same, lambda: tf.cast(snippets, tf.float32),
                   lambda: tf.image.resize(snippets, [output_size, output_size]))


def _train_clip(features, seed, *, stream, modality, num_segments, length, output_size,
                mean_vector, std_vector):
    """One training clip: float32 (K, S, S, C·L)."""
    seed_sample, seed_crop, seed_flip = tf.unstack(
            tf.random.experimental.stateless_split(seed, 3))
    count = _frame_count(features, stream)
    items = length + stream.extra_frames
    offsets = sampling.train_offsets(count, num_segments, items, seed_sample)
    indices = tf.reshape(sampling.snippet_indices(offsets, items, count), [-1])
    jpegs = [tf.gather(features["frames"][key], indices) for key in stream.keys]
    shape = tf.io.extract_jpeg_shape(jpegs[0][0])
    box = crops.multiscale_crop_box(shape[0], shape[1], output_size, stream.scales, seed_crop)
    decoded = [modalities.decode_frames(j, stream.jpeg_channels, box) for j in jpegs]
    snippets = _stacked(decoded, stream, items)
    # mirror on uint8 before resizing (1/4 of the bytes; a half-pixel bilinear
    # resize commutes with it); flow x is inverted inside `normalize`
    flip = tf.random.stateless_uniform([], seed_flip) < 0.5
    snippets = tf.cond(flip, lambda: modalities.flip_snippets(snippets, False), lambda: snippets)
    snippets = _resize(snippets, output_size)
    if modality == "rgb_diff":
        snippets = modalities.rgb_difference(snippets, items)
    snippets = modalities.normalize(snippets, mean_vector, std_vector,
                                    tf.logical_and(flip, stream.inverts_x_on_flip))
    return tf.ensure_shape(snippets, [num_segments, output_size, output_size, None])


def _rescale_short_side(snippets, short_side: int):
    """(S, H, W, C) -> float32 with min(H, W) == short_side (kept when already so)."""
    shape = tf.shape(snippets)
    height, width = shape[1], shape[2]

    def resize():
        scale = short_side / tf.cast(tf.minimum(height, width), tf.float64)
        size = tf.where(height < width,
                        [short_side, tf.cast(tf.cast(width, tf.float64) * scale, tf.int32)],
                        [tf.cast(tf.cast(height, tf.float64) * scale, tf.int32), short_side])
        return tf.image.resize(snippets, size)

    return tf.cond(tf.minimum(height, width) == short_side, lambda: tf.cast(snippets, tf.float32),
                   resize)


def _eval_clip(features, offsets, count, *, stream, modality, length, output_size, eval_crops,
               mean_vector, std_vector):
    """Eval views of the snippets at `offsets`: float32 (crops, S, c, c, C·L)."""
    items = length + stream.extra_frames
    indices = tf.reshape(sampling.snippet_indices(offsets, items, count), [-1])
    decoded = [modalities.decode_frames(tf.gather(features["frames"][key], indices),
                                        stream.jpeg_channels) for key in stream.keys]
    snippets = _rescale_short_side(_stacked(decoded, stream, items),
                                   round(output_size * REFERENCE_SCALE_RATIO))
    shape = tf.shape(snippets)
    boxes, flips = crops.eval_views(shape[1], shape[2], output_size, eval_crops)
    views = []
    for view, flip in enumerate(flips):
        y, x = boxes[view, 0], boxes[view, 1]
        crop = snippets[:, y:y + output_size, x:x + output_size, :]
        crop = modalities.flip_snippets(crop, False) if flip else crop
        if modality != "rgb_diff":
            crop = modalities.normalize(crop, mean_vector, std_vector,
                                        flip and stream.inverts_x_on_flip)
        views.append(crop)
    views = tf.stack(views)
    if modality == "rgb_diff":
        shape = tf.shape(views)
        views = tf.reshape(modalities.rgb_difference(
                tf.reshape(views, [-1, output_size, output_size, views.shape[-1]]), items),
                [shape[0], shape[1], output_size, output_size, 3 * length])
        views = modalities.normalize(views, mean_vector, std_vector)
    return views


# --- the dataset -------------------------------------------------------------

def make_dataset(file_pattern: Union[str, Sequence[str]], *, modality: str,
                 num_segments: int, training: bool, batch_size: int,
                 mean, std, output_size: int = 224, snippet_length: Optional[int] = None,
                 eval_crops: int = 1, untrimmed_fps: Optional[float] = None,
                 num_classes: Optional[int] = None, multi_label: bool = False,
                 shuffle_buffer: int = 64, cache: bool = False, seed: Optional[int] = None,
                 deterministic: bool = False, skip_corrupt: bool = False,
                 drop_remainder: Optional[bool] = None, repeat: bool = False,
                 snippets_per_chunk: Optional[int] = None) -> tf.data.Dataset:
    """Batches of TSN clips from SequenceExample shards (see the module doc).

    Args:
      file_pattern: glob (any TF filesystem) or list of globs of TFRecord shards.
      modality: "rgb", "flow", "warped_flow", "rgb_diff", or "audio": log-mel
        patches by `audio_pipeline.make_audio_dataset` (scalar mean/std on
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
      shuffle_buffer: examples in the training shuffle buffer (each holds a
        whole video's encoded frames).
      cache: cache parsed records in memory after the first pass.
      seed: seed of shuffling and augmentation; with `deterministic=True`
        two iterations over the same files give the same batches.
      deterministic: keep the order of parallel stages fixed (always so in
        evaluation, where videos come out in shard order).
      skip_corrupt: skip bad files and records with a logged warning instead
        of failing with an error that names the file.
      drop_remainder: drop a last partial batch; default `training`.
      repeat: repeat the videos endlessly (before shuffling and batching, so
        batches run across epochs: the paper's schedules count iterations).
      snippets_per_chunk: untrimmed only: split each video into consecutive
        elements of at most this many snippets, so decoded memory stays
        bounded however long the video; ``extras`` then add ``chunk`` and
        ``num_chunks`` (int32), and ``timestamps`` / ``num_snippets`` are
        the chunk's. Chunks of one video arrive in order.
    Returns:
      A `tf.data.Dataset` (see the module doc for the element structure).
    """
    deterministic = deterministic or not training
    if modality == "audio":
        return _audio_dataset(file_pattern, num_segments=num_segments, training=training,
                              batch_size=batch_size, mean=mean, std=std,
                              untrimmed_fps=untrimmed_fps, num_classes=num_classes,
                              multi_label=multi_label, shuffle_buffer=shuffle_buffer, cache=cache,
                              seed=seed, deterministic=deterministic, skip_corrupt=skip_corrupt,
                              drop_remainder=drop_remainder, repeat=repeat)
    stream = modalities.get_stream(modality)
    if multi_label and num_classes is None:
        raise ValueError("multi_label=True needs num_classes. Received: num_classes=None")
    if untrimmed_fps is not None and (training or untrimmed_fps <= 0):
        raise ValueError("untrimmed_fps is for evaluation and must be > 0. Received: "
                         f"untrimmed_fps={untrimmed_fps}, training={training}")
    length = snippet_length or stream.default_length
    channels = stream.jpeg_channels * len(stream.keys) * length
    mean_vector, std_vector = modalities.normalization(mean, std, modality, channels)
    paths, sizes = records.list_shards(file_pattern)
    parse = _parser(stream.keys)
    examples = _read_shards(paths, sizes, parse, training=training, seed=seed,
                            deterministic=deterministic, skip_corrupt=skip_corrupt)
    if cache:
        examples = examples.cache()
    if repeat:
        examples = examples.repeat()
    common = dict(stream=stream, modality=modality, length=length, output_size=output_size,
                  mean_vector=mean_vector, std_vector=std_vector)

    if training:
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        examples = tf.data.Dataset.zip((examples, seeds))

        def make(features, clip_seed):
            clip = _train_clip(features, clip_seed, num_segments=num_segments, **common)
            return clip, _labels(features, num_classes, multi_label)
    else:
        def make(features, offsets=None):
            count = _frame_count(features, stream)
            if untrimmed_fps is None:
                offsets = sampling.eval_offsets(count, num_segments,
                                                length + stream.extra_frames)
            elif offsets is None:
                offsets = _untrimmed_offsets(features, count, untrimmed_fps)
            views = _eval_clip(features, offsets, count, eval_crops=eval_crops, **common)
            extras = {"media_id": features["media_id"]}
            if untrimmed_fps is not None:
                extras["timestamps"] = tf.cast(offsets, tf.float32) / features["frame_rate"]
                extras["num_snippets"] = tf.size(offsets)
            return views, _labels(features, num_classes, multi_label), extras

        def chunks(features):
            offsets = _untrimmed_offsets(features, _frame_count(features, stream), untrimmed_fps)
            num_chunks = (tf.size(offsets) + snippets_per_chunk - 1) // snippets_per_chunk

            def chunk(index):
                index = tf.cast(index, tf.int32)
                part = offsets[index * snippets_per_chunk:(index + 1) * snippets_per_chunk]
                views, labels, extras = make(features, part)
                return views, labels, dict(extras, chunk=index, num_chunks=num_chunks)
            return tf.data.Dataset.range(tf.cast(num_chunks, tf.int64)).map(chunk)

    if not training and untrimmed_fps is not None and snippets_per_chunk:
        clips = examples.flat_map(chunks)
    else:
        clips = examples.map(make, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if skip_corrupt:
        clips = clips.ignore_errors(log_warning=True)
    drop = training if drop_remainder is None else drop_remainder
    if untrimmed_fps is None:
        clips = clips.batch(batch_size, drop_remainder=drop)
    else:
        clips = clips.padded_batch(batch_size, drop_remainder=drop)
    options = tf.data.Options()
    options.deterministic = deterministic
    return clips.prefetch(AUTOTUNE).with_options(options)


def _untrimmed_offsets(features, count, snippets_per_second):
    """Snippet start frames at `snippets_per_second`; fails naming a video without a frame rate."""
    check = _check(features["frame_rate"] > 0, "No image/frame_rate in video ",
                   features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return sampling.untrimmed_offsets(count, features["frame_rate"], snippets_per_second)


def _audio_dataset(file_pattern, *, untrimmed_fps, **kwargs):
    from tsn_tf.input import audio_pipeline  # it imports this module's readers

    if untrimmed_fps is not None:
        raise ValueError("The audio stream has no untrimmed mode. Received: "
                         f"untrimmed_fps={untrimmed_fps}")
    return audio_pipeline.make_audio_dataset(file_pattern, **kwargs)
