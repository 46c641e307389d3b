"""The TSN tf.data input pipeline: shards -> batches of normalized snippets.

    list files -> (shuffle files) -> interleave the shards' indexes, parse
    -> (cache) -> (shuffle videos) -> sample K segments -> read only the
    sampled frames' records (one byte run per snippet, `records.read_runs`)
    training:   -> decode only the crop window -> mirror, resize, normalize
                -> batch -> prefetch; with `defer_resize`: -> uint8 crops on
                a canvas -> batch -> prefetch (the train step runs
                `finish_deferred` on the accelerator)
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
  reshaped to (B·crops, K, ...) and averaging over crops is the same). ``extras["media_id"]`` is a string (B,).
- untrimmed evaluation (`untrimmed_fps` set): K is the number of snippets of
  each video, padded to the longest in the batch; ``extras`` adds
  ``timestamps`` float32 (B, K), the seconds of each snippet's first frame
  (its stored presentation timestamp), and ``num_snippets`` int32 (B,).
  Snippets start every ``frame_rate / untrimmed_fps`` frames. A 3-minute
  video at 1 snippet/s with 10 crops is 1800 snippets (~1 GB at 224x224
  RGB): use batch 1, fewer crops, or score it in pieces.

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


# --- the index -----------------------------------------------------------------

def _parser(stream: modalities.Stream, timestamps: bool = False):
    """Serialized index record (`layout`) -> dict of the fields the pipeline uses:
    ``offsets`` int64 (N + 1,) are the byte offsets of the stream's N frames;
    with `timestamps` also ``timestamps_us`` int64, the frames' presentation
    timestamps (`image/timestamp`)."""
    context_spec = {
        schema.MEDIA_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        schema.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
        schema.IMAGE_FRAME_RATE: tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
        schema.frame_offsets_key(stream.group): tf.io.VarLenFeature(tf.int64),
    }
    sequence_spec = {schema.IMAGE_TIMESTAMP: tf.io.FixedLenSequenceFeature(
            [], tf.int64, allow_missing=True)} if timestamps else None

    def parse(serialized):
        context, sequence = tf.io.parse_single_sequence_example(
                serialized, context_features=context_spec, sequence_features=sequence_spec)
        fields = {
            "media_id": context[schema.MEDIA_ID],
            "labels": tf.sparse.to_dense(context[schema.LABEL_INDEX]),
            "frame_rate": context[schema.IMAGE_FRAME_RATE],
            "offsets": tf.sparse.to_dense(context[schema.frame_offsets_key(stream.group)]),
        }
        if timestamps:
            fields["timestamps_us"] = sequence[schema.IMAGE_TIMESTAMP]
        return fields
    return parse


def _read_shards(paths, sizes, parse, *, training, seed, deterministic, skip_corrupt):
    """Dataset of parsed index records (dicts with a `shard` path) over all files;
    reads no frame."""
    files = tf.data.Dataset.from_tensor_slices((paths, tf.constant(sizes, tf.int64)))
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def read(path, size):
        index = tf.data.Dataset.from_tensor_slices(records.read_index(path, size, skip_corrupt))
        return index.map(lambda record: {**parse(record), "shard": path})

    return files.interleave(read, cycle_length=min(len(paths), 8), block_length=1,
                            num_parallel_calls=AUTOTUNE, deterministic=deterministic)


# --- one clip ----------------------------------------------------------------

def _frame_count(features, stream: modalities.Stream):
    """Frames of the modality in the index, asserted > 0."""
    count = tf.size(features["offsets"]) - 1
    check = records.check(count > 0, "No frames under ", ",".join(stream.keys), " in video ",
                          features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return tf.identity(count)


def _snippet_jpegs(features, starts, items: int, count, stream: modalities.Stream):
    """The encoded frames of the snippets starting at `starts` (int32 (S,)), `items`
    frames each (the last frame repeated past the end): string (keys, S·items).

    Reads only their records: one contiguous run of records per snippet.
    """
    keys = len(stream.keys)
    starts = tf.cast(starts, tf.int32)
    frames = tf.minimum(items, count - starts)              # frames each run holds, >= 1
    offsets = features["offsets"]
    data = records.read_runs(features["shard"], tf.gather(offsets, starts),
                             tf.gather(offsets, starts + frames), frames * keys,
                             features["media_id"])
    first = tf.cumsum(frames * keys, exclusive=True)        # (S,) run starts in `data`
    is_jpeg = tf.equal(tf.strings.substr(data, 0, len(schema.JPEG_MAGIC)),
                       schema.JPEG_MAGIC)

    def bad_frame():  # "<key> frame <n>" of the first record that is no JPEG
        bad = tf.argmin(tf.cast(is_jpeg, tf.int32), output_type=tf.int32)
        run = tf.searchsorted(first, bad[None], side="right")[0] - 1
        return tf.strings.join([tf.gather(stream.keys, (bad - first[run]) % keys), " frame ",
                                tf.strings.as_string(starts[run] + (bad - first[run]) // keys)])

    check = records.check(tf.reduce_all(is_jpeg), "shard ", features["shard"], ", video ",
                          features["media_id"], ": ", bad_frame, " is not a JPEG")
    local = sampling.snippet_indices(starts, items, count) - starts[:, None]   # (S, items)
    positions = tf.reshape(first[:, None] + local * keys, [-1])
    with tf.control_dependencies([check]):
        return tf.stack([tf.gather(data, positions + key) for key in range(keys)])


def _labels(features, num_classes, multi_label):
    labels = tf.cast(features["labels"], tf.int32)
    where = [" in video ", features["media_id"], " of shard ", features["shard"]]
    checks = [] if multi_label else [records.check(tf.size(labels) > 0, "No clip/label/index",
                                                   *where)]
    if num_classes is not None:
        checks.append(records.check(tf.reduce_all((labels >= 0) & (labels < num_classes)),
                                    "Label outside [0, ", str(num_classes), ")", *where))
    with tf.control_dependencies(checks):
        if multi_label:
            return tf.reduce_max(tf.one_hot(labels, num_classes, dtype=tf.float32), axis=0)
        return tf.identity(labels[0])


def _sampled_jpegs(features, seed, *, stream, num_segments, length):
    """The encoded frames one training clip samples: string (keys, K·(L+extra))."""
    seed_sample = tf.random.experimental.stateless_split(seed, 3)[0]
    count = _frame_count(features, stream)
    items = length + stream.extra_frames
    offsets = sampling.train_offsets(count, num_segments, items, seed_sample)
    return _snippet_jpegs(features, offsets, items, count, stream)


def _train_items(jpegs, seed, *, stream, num_segments, length, output_size):
    """One training clip's frames (`_sampled_jpegs`), cropped while decoding, and its flip.

    Returns:
      (items, flip): uint8 (K, I, h, w, c) with I = items per snippet (rgb L,
      rgb_diff L + 1, flow 2L in the order x0, y0, x1, y1, ...) and c the
      JPEG channels; bool scalar, whether the clip is to be mirrored (by
      `_finish_clip` or `finish_deferred`).
    """
    _, seed_crop, seed_flip = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.io.extract_jpeg_shape(jpegs[0, 0])
    box = crops.multiscale_crop_box(shape[0], shape[1], output_size, stream.scales, seed_crop)
    decoded = [modalities.decode_frames(jpegs[key], stream.jpeg_channels, box)
               for key in range(len(stream.keys))]
    items = modalities.stack_snippets(decoded, length + stream.extra_frames)
    return items, tf.random.stateless_uniform([], seed_flip) < 0.5


def _differences(clips, modality: str, length: int):
    """rgb_diff: float (..., S, S, 3·(L+1)) frames -> (..., S, S, 3·L); others unchanged."""
    if modality != "rgb_diff":
        return clips
    shape = tf.shape(clips)
    snippets = tf.reshape(clips, tf.concat([[-1], shape[-3:]], 0))
    return tf.reshape(modalities.rgb_difference(snippets, length + 1),
                      tf.concat([shape[:-1], [3 * length]], 0))


def _finish_clip(items, flip, *, stream, modality, length, output_size, mean_vector,
                 std_vector):
    """One training clip finished in tf.data: float32 (K, S, S, C·L).

    Per clip with `tf.image.resize` (1.7-3.2x faster than `crop_and_resize`
    on one CPU core); the same results as `finish_deferred` within float
    rounding. TF's bilinear kernel takes 0.6-0.7x the time on float input for
    RGB frames but 0.8x on uint8 input for flow's single-channel items (the
    values are the same either way), hence the cast only for RGB. The uint8
    crop is mirrored before resizing (half-pixel bilinear sampling commutes
    with a mirror), 2-3x cheaper than mirroring the float output.
    """
    frames = modalities.items_to_channels(items)
    frames = tf.cond(flip, lambda: modalities.mirror(frames), lambda: frames)
    if stream.jpeg_channels == 3:
        frames = tf.cast(frames, tf.float32)
    size = tf.shape(frames)[1:3]
    resized = tf.cond(tf.reduce_all(size == output_size), lambda: tf.cast(frames, tf.float32),
                      lambda: tf.image.resize(frames, [output_size, output_size]))
    return modalities.normalize(_differences(resized, modality, length), mean_vector, std_vector,
                                tf.logical_and(flip, stream.inverts_x_on_flip))


def _on_canvas(items, canvas_size: int):
    """uint8 (K, I, h, w, c) -> (K, I, P, P, c): the crop at (1, 1), its edge
    rows and columns repeated once around it, zeros beyond.

    The repeated edge makes `finish_deferred`'s box sampling clamp at the
    crop's edges exactly as a half-pixel resize does. Built with `concat`:
    `tf.pad` of uint8 frames with a small channel axis is 7-13x slower on CPU.
    """
    def extend(frames, axis):
        first = tf.gather(frames, [0], axis=axis)
        last = tf.gather(frames, [tf.shape(frames)[axis] - 1], axis=axis)
        shape = tf.unstack(tf.shape(frames))
        shape[axis] = canvas_size - shape[axis] - 2
        return tf.concat([first, frames, last, tf.zeros(tf.stack(shape), tf.uint8)], axis=axis)

    return extend(extend(items, 3), 2)


def eval_short_side(output_size: int) -> int:
    """Short side of evaluation frames for S x S inputs: tsn-pytorch's
    ``scale_size``, ``S * 256 // 224`` (256 for 224, 341 for 299)."""
    return output_size * 256 // 224


def default_canvas_size(output_size: int) -> int:
    """Side of the canvas of deferred crops: the largest crop of frames whose
    short side is `eval_short_side` (256 for 224 inputs), plus a 1-pixel
    border on each side."""
    return eval_short_side(output_size) + 2


def _deferred_clip(items, flip, *, canvas_size):
    """One training clip left to `finish_deferred`: ``{"frames", "crop_size",
    "flip"}``. A crop larger than the canvas (frames with a short side above
    ``canvas_size - 2``) is first shrunk to fit."""
    shape = tf.shape(items)
    inner = canvas_size - 2

    def shrink():
        size = tf.cast(shape[2:4], tf.float64)
        fit = tf.cast(tf.math.floor(size * inner / tf.reduce_max(size)), tf.int32)
        frames = tf.reshape(items, tf.concat([[-1], shape[2:]], 0))
        frames = tf.cast(tf.round(tf.image.resize(frames, tf.maximum(fit, 1))), tf.uint8)
        return tf.reshape(frames, tf.concat([shape[:2], tf.shape(frames)[1:]], 0))

    items = tf.ensure_shape(tf.cond(tf.reduce_max(shape[2:4]) > inner, shrink, lambda: items),
                            items.shape)
    frames = tf.ensure_shape(_on_canvas(items, canvas_size),
                             items.shape[:2] + [canvas_size, canvas_size] + items.shape[-1:])
    return {"frames": frames, "crop_size": tf.shape(items)[2:4], "flip": flip}


def _crop_boxes(crop_size, flip, canvas_size: int, output_size: int):
    """`crop_and_resize` boxes (B, 4) sampling crops at (1, 1) of the canvas
    with half-pixel centres, ``(i + 0.5) * extent / S - 0.5``; x reversed
    where `flip`."""
    scale = tf.cast(crop_size, tf.float32) / output_size                # (B, 2)
    start = 0.5 + 0.5 * scale
    end = start + (output_size - 1) * scale
    x_start = tf.where(flip, end[:, 1], start[:, 1])
    x_end = tf.where(flip, start[:, 1], end[:, 1])
    boxes = tf.stack([start[:, 0], x_start, end[:, 0], x_end], axis=1)
    return boxes / (canvas_size - 1)


def _taps(start, step, count: int, canvas_size: int):
    """Bilinear interpolation matrices (B, count, P): row i samples canvas
    coordinate ``start + i * step`` (start, step: (B,)) between its two taps."""
    coords = start[:, None] + step[:, None] * tf.range(count, dtype=tf.float32)
    low = tf.floor(coords)
    upper_weight = (coords - low)[..., None]
    low = tf.cast(low, tf.int32)
    return (tf.one_hot(low, canvas_size) * (1.0 - upper_weight)
            + tf.one_hot(low + 1, canvas_size) * upper_weight)


def _resize_by_matmul(images, boxes, output_size: int):
    """`crop_and_resize` of (B, K, P, P, D) images, one box per clip, as two
    batched matrix products (XLA-friendly: dense matmuls, no gathers)."""
    canvas = images.shape[-2]
    extent = boxes * (canvas - 1)
    step = (extent[:, 2:] - extent[:, :2]) / max(output_size - 1, 1)   # (B, 2), x < 0: flip
    rows = _taps(extent[:, 0], step[:, 0], output_size, canvas)          # (B, S, P)
    columns = _taps(extent[:, 1], step[:, 1], output_size, canvas)       # (B, S, P)
    images = tf.cast(images, tf.float32)
    resized = tf.einsum("bsp,bkpqd->bksqd", rows, images)
    return tf.einsum("bksqd,btq->bkstd", resized, columns)


def finish_deferred(inputs, *, modality: str, output_size: int, mean, std,
                    snippet_length: Optional[int] = None, method: str = "crop_and_resize"):
    """Resizes, mirrors and normalizes a batch of deferred training clips.

    Plain TF ops on any device; the training step runs it on the accelerator.

    Args:
      inputs: the clips of `make_dataset(..., training=True, defer_resize=True)`:
        ``frames`` uint8 (B, K, I, P, P, c): each snippet's I items (rgb: L
        frames; rgb_diff: L + 1; flow: x0, y0, x1, y1, ...), cropped to
        ``crop_size`` int32 (B, 2) and placed at (1, 1) of a P x P canvas
        (see `_on_canvas`); ``flip`` bool (B,): mirror the clip (flow: x
        becomes 255 - x).
      modality, output_size, mean, std, snippet_length: as given to `make_dataset`.
      method: "crop_and_resize" (one batched op; no XLA kernel) or "matmul"
        (two batched matrix products per clip; compiles with XLA, for TPUs
        and `jit_compile` steps; ~2 x S x P^2 multiply-adds per channel).
    Returns:
      float32 (B, K, S, S, C·L): what `make_dataset` gives without
      `defer_resize` (computed there per clip with `tf.image.resize`, faster
      on CPU; equal within float rounding).
    """
    if method not in ("crop_and_resize", "matmul"):
        raise ValueError(f"method must be 'crop_and_resize' or 'matmul'. Received: {method!r}")
    stream = modalities.get_stream(modality)
    length = snippet_length or stream.default_length
    channels = stream.jpeg_channels * len(stream.keys) * length
    mean_vector, std_vector = modalities.normalization(mean, std, modality, channels)
    frames = inputs["frames"]
    canvas, depth = frames.shape[-2], frames.shape[2] * frames.shape[-1]
    shape = tf.shape(frames)
    boxes = _crop_boxes(inputs["crop_size"], inputs["flip"], canvas, output_size)
    images = modalities.items_to_channels(frames)                      # (B, K, P, P, D)
    if method == "matmul":
        resized = _resize_by_matmul(images, boxes, output_size)
    else:
        # a static count where known (grappler's cost model warns on an unknown
        # number of boxes, tensorflow/tensorflow#56904)
        clips = (frames.shape[0] * frames.shape[1] if frames.shape[0] is not None
                 else shape[0] * shape[1])
        resized = tf.image.crop_and_resize(
                tf.reshape(images, [clips, canvas, canvas, depth]),
                tf.repeat(boxes, shape[1], axis=0), tf.range(clips), [output_size, output_size])
        resized = tf.reshape(resized, [shape[0], shape[1], output_size, output_size, depth])
    invert_x = tf.logical_and(inputs["flip"], stream.inverts_x_on_flip)
    return modalities.normalize(_differences(resized, modality, length), mean_vector,
                                std_vector, invert_x)


def rescaled_size(height, width, short_side: int):
    """int32 (2,) (height, width) after scaling the short side to `short_side`:
    the long side is ``short_side * long // short``, tsn-pytorch's
    ``int(size * h / w)`` (torchvision `Scale`) in integers, so min(H, W)
    becomes exactly `short_side`. Elementwise for arrays of sizes."""
    height, width = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
    short = tf.cast(short_side, tf.int64)
    tall = width < height
    return tf.cast(tf.stack([tf.where(tall, short * height // width, short),
                             tf.where(tall, short, short * width // height)]), tf.int32)


def _rescale_short_side(snippets, short_side: int):
    """(S, H, W, C) -> float32 with min(H, W) == short_side (kept when already so)."""
    shape = tf.shape(snippets)
    size = rescaled_size(shape[1], shape[2], short_side)
    return tf.cond(tf.reduce_all(size == shape[1:3]), lambda: tf.cast(snippets, tf.float32),
                   lambda: tf.image.resize(snippets, size))


def _eval_clip(features, offsets, count, *, stream, length, **view_args):
    """Eval views of the snippets at `offsets` of the frames in ``features["frames"]``
    (a dict of string (N,) per stream key): float32 (crops, S, c, c, C·L)."""
    indices = tf.reshape(sampling.snippet_indices(offsets, length + stream.extra_frames,
                                                  count), [-1])
    jpegs = tf.stack([tf.gather(features["frames"][key], indices) for key in stream.keys])
    return _eval_views(jpegs, stream=stream, length=length, **view_args)


def _eval_views(jpegs, *, stream, modality, length, output_size, eval_crops, mean_vector,
                std_vector):
    """Eval views of snippets whose frames `jpegs` string (keys, S·items) holds in snippet
    order: float32 (crops, S, c, c, C·L)."""
    items = length + stream.extra_frames
    decoded = [modalities.decode_frames(jpegs[key], stream.jpeg_channels)
               for key in range(len(stream.keys))]
    snippets = _rescale_short_side(
            modalities.items_to_channels(modalities.stack_snippets(decoded, items)),
            eval_short_side(output_size))
    shape = tf.shape(snippets)
    boxes, flips = crops.eval_views(shape[1], shape[2], output_size, eval_crops)
    views = []
    for view, flip in enumerate(flips):
        y, x = boxes[view, 0], boxes[view, 1]
        crop = snippets[:, y:y + output_size, x:x + output_size, :]
        views.append(modalities.flip_snippets(crop, False) if flip else crop)
    invert_x = tf.constant([flip and stream.inverts_x_on_flip for flip in flips])
    return modalities.normalize(_differences(tf.stack(views), modality, length), mean_vector,
                                std_vector, invert_x)


# --- the dataset -------------------------------------------------------------

def make_dataset(file_pattern: Union[str, Sequence[str]], *, modality: str,
                 num_segments: int, training: bool, batch_size: int,
                 mean, std, output_size: int = 224, snippet_length: Optional[int] = None,
                 eval_crops: int = 1, untrimmed_fps: Optional[float] = None,
                 num_classes: Optional[int] = None, multi_label: bool = False,
                 shuffle_buffer: int = 1024, cache: bool = False, seed: Optional[int] = None,
                 deterministic: bool = False, skip_corrupt: bool = False,
                 drop_remainder: Optional[bool] = None, repeat: bool = False,
                 snippets_per_chunk: Optional[int] = None, defer_resize: bool = False,
                 canvas_size: Optional[int] = None) -> tf.data.Dataset:
    """Batches of TSN clips from indexed shards (`layout`; see the module doc).

    Args:
      file_pattern: glob (any TF filesystem) or list of globs of tsn-ingest shards.
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
    if defer_resize and (not training or modality == "audio"):
        raise ValueError("defer_resize is for training the video streams. Received: "
                         f"defer_resize={defer_resize}, training={training}, "
                         f"modality={modality!r}")
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
    items_per_snippet = (length + stream.extra_frames) * len(stream.keys)
    mean_vector, std_vector = modalities.normalization(mean, std, modality, channels)
    paths, sizes = records.list_shards(file_pattern)
    parse = _parser(stream, timestamps=untrimmed_fps is not None)
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
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        examples = tf.data.Dataset.zip((examples, seeds.batch(2)))
        canvas = canvas_size or default_canvas_size(output_size)
        sampling_args = dict(stream=stream, num_segments=num_segments, length=length)

        def make(features, clip_seed):
            jpegs = _sampled_jpegs(features, clip_seed, **sampling_args)
            items, flip = _train_items(jpegs, clip_seed, output_size=output_size,
                                       **sampling_args)
            items = tf.ensure_shape(items, [num_segments, items_per_snippet, None, None,
                                            stream.jpeg_channels])
            if defer_resize:
                clip = _deferred_clip(items, flip, canvas_size=canvas)
            else:
                clip = tf.ensure_shape(_finish_clip(items, flip, **common),
                                       [num_segments, output_size, output_size, channels])
            return clip, _labels(features, num_classes, multi_label)
    else:
        def make(features, offsets=None):
            count = _frame_count(features, stream)
            if untrimmed_fps is None:
                offsets = sampling.eval_offsets(count, num_segments,
                                                length + stream.extra_frames)
            elif offsets is None:
                offsets = _untrimmed_offsets(features, count, untrimmed_fps)
            jpegs = _snippet_jpegs(features, offsets, length + stream.extra_frames, count,
                                   stream)
            views = _eval_views(jpegs, eval_crops=eval_crops, **common)
            extras = {"media_id": features["media_id"]}
            if untrimmed_fps is not None:
                extras["timestamps"] = _snippet_times(features, offsets)
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
    check = records.check(features["frame_rate"] > 0, "No image/frame_rate in video ",
                          features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return sampling.untrimmed_offsets(count, features["frame_rate"], snippets_per_second)


def _snippet_times(features, offsets):
    """Seconds of each snippet's first frame: its stored presentation timestamp
    (from the video's first frame), as tsn-predict reports them; float32 (S,)."""
    times = features["timestamps_us"]
    last = tf.reduce_max(offsets)
    check = records.check(last < tf.size(times), "No image/timestamp for frame ", last,
                          " in video ", features["media_id"], " of shard ", features["shard"])
    with tf.control_dependencies([check]):
        return tf.cast(tf.cast(tf.gather(times, offsets), tf.float64) / 1e6, tf.float32)


def _audio_dataset(file_pattern, *, untrimmed_fps, **kwargs):
    from tsn_tf.input import audio_pipeline  # it imports this module's readers

    if untrimmed_fps is not None:
        raise ValueError("The audio stream has no untrimmed mode. Received: "
                         f"untrimmed_fps={untrimmed_fps}")
    return audio_pipeline.make_audio_dataset(file_pattern, **kwargs)
