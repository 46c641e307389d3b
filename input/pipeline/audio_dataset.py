"""The `audio` stream's tf.data pipeline: shards -> batches of log-mel patches.

    list files -> interleave shard indexes, parse -> (training: drop videos
    without audio) -> read the video's audio record -> sample K segment
    patches -> normalize -> (training: SpecAugment time/frequency masks)
    -> batch -> prefetch

Segment rule (the frames' rule of sampling.py on the log-mel frame axis,
which ingestion puts on the video clock): segment k of K is the k-th of K
equal spans of the N audio frames. Its patch is `patch_frames` (P) frames
(default 96 = 0.96 s) centred on the frame TSN would pick with L = 1: the
segment centre in evaluation, a uniform random frame of the segment in
training; the patch is shifted to stay inside the track, and a track
shorter than P repeats its last frame (as snippets do past the end).
Segment k's patch therefore covers the time of segment k's video frames.

Outputs (M = mel bins):
- training: ``(clips, labels)``, clips float32 (B, K, P, M, 1). Videos
  without audio (``AUDIO/present`` = 0) are skipped.
- evaluation: ``(clips, labels, extras)``, clips float32 (B, 1, K, P, M, 1)
  (one view: audio has no crops), ``extras["media_id"]`` string (B,) and
  ``extras["audio_present"]`` bool (B,). A video without audio yields an
  all-zero clip with ``audio_present`` False: score it as missing (the
  evaluator writes zero scores, neutral in a weighted-sum fusion), never as
  silence.

Normalization: ``(log_mel - mean) / std`` (defaults `log_mel.LOG_MEL_MEAN`,
`log_mel.LOG_MEL_STD`). SpecAugment (Park et al. 2019) without time warping:
`time_masks` bands of uniform width in [0, time_mask_frames] frames and
`freq_masks` bands of width in [0, freq_mask_bins] mel bins, each at a
uniform position, set to 0 (the normalized mean) independently per patch.
"""
from typing import Optional, Sequence, Union

import tensorflow as tf


from tsn_tf.input.contract import log_mel as log_mel_lib
from tsn_tf.input.pipeline import index
from tsn_tf.input.pipeline import records
from tsn_tf.input.pipeline import sampling
from tsn_tf.input.contract import layout, schema

AUTOTUNE = tf.data.AUTOTUNE
PATCH_FRAMES = 96       # 0.96 s at 100 frames/s
TIME_MASKS = 2
TIME_MASK_FRAMES = 24   # up to 0.24 s per band
FREQ_MASKS = 2
FREQ_MASK_BINS = 16     # up to a quarter of 64 mel bins per band


# --- parse -------------------------------------------------------------------

def _parser(mel_bins: int):
    """Serialized index record -> {media_id, labels, present, audio_offsets}, and a
    function adding the video's ``log_mel`` (N, M) read from its audio record."""
    context_spec = {
        schema.MEDIA_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        schema.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
        schema.AUDIO_PRESENT: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        schema.AUDIO_RECORD_OFFSET: tf.io.VarLenFeature(tf.int64),
    }
    sequence_spec = {schema.AUDIO_FLOATS: tf.io.FixedLenSequenceFeature(
            [mel_bins], tf.float32, allow_missing=True)}

    def parse(serialized):
        context, _ = tf.io.parse_single_sequence_example(serialized,
                                                         context_features=context_spec)
        return {"media_id": context[schema.MEDIA_ID],
                "labels": tf.sparse.to_dense(context[schema.LABEL_INDEX]),
                "present": context[schema.AUDIO_PRESENT],
                "audio_offsets": tf.sparse.to_dense(context[schema.AUDIO_RECORD_OFFSET])}

    def read_log_mel(features):
        offsets = features["audio_offsets"]

        def read():
            record = records.read_runs(features["shard"], offsets[:1], offsets[1:], [1],
                                       features["media_id"])[0]
            return tf.io.parse_single_sequence_example(
                    record, sequence_features=sequence_spec)[1][schema.AUDIO_FLOATS]

        return tf.cond(tf.size(offsets) == 2, read, lambda: tf.zeros([0, mel_bins]))
    return parse, read_log_mel


def _present(features):
    """True when the video has audio; asserts it was ingested with the audio modality."""
    check = records.check(features["present"] >= 0, "No ", schema.AUDIO_PRESENT,
                          " in video ", features["media_id"], " of shard ", features["shard"],
                          ": ingest with --modalities including audio")
    with tf.control_dependencies([check]):
        return tf.logical_and(features["present"] > 0, tf.size(features["audio_offsets"]) == 2)


# --- sampling and augmentation -------------------------------------------------

def patch_offsets(num_frames, num_segments: int, patch_frames: int, *, training: bool,
                  seed=None):
    """First log-mel frame of each segment's patch: int32 (K,) in [0, max(N - P, 0)].

    Args:
      num_frames: int32 scalar N (> 0) of log-mel frames.
      num_segments: K.
      patch_frames: P.
      training: random frame of each segment (else its centre) as patch centre.
      seed: int32/int64 (2,) stateless seed, training only.
    """
    if training:
        centres = sampling.train_offsets(num_frames, num_segments, 1, seed)
    else:
        centres = sampling.eval_offsets(num_frames, num_segments, 1)
    last = tf.maximum(tf.cast(num_frames, tf.int32) - patch_frames, 0)
    return tf.clip_by_value(centres - patch_frames // 2, 0, last)


def gather_patches(log_mel, offsets, patch_frames: int):
    """(N, M) frames, (K,) offsets -> (K, P, M), repeating frame N-1 past the end."""
    indices = sampling.snippet_indices(offsets, patch_frames, tf.shape(log_mel)[0])
    return tf.gather(log_mel, indices)


def band_mask(starts, widths, length: int):
    """bool (..., length): True inside any band [start, start + width) of the last axis.

    starts, widths: int32 (..., n) for n bands.
    """
    positions = tf.range(length, dtype=tf.int32)
    inside = tf.logical_and(positions >= starts[..., None],
                            positions < (starts + widths)[..., None])
    return tf.reduce_any(inside, axis=-2)


def _random_bands(seed, batch: int, count: int, max_width: int, length: int):
    """int32 (batch, count) starts and widths: width uniform in [0, max_width], start
    uniform in [0, length - width]."""
    seed_width, seed_start = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    widths = tf.random.stateless_uniform([batch, count], seed_width, 0, max_width + 1, tf.int32)
    widths = tf.minimum(widths, length)
    fraction = tf.random.stateless_uniform([batch, count], seed_start)
    starts = tf.cast(fraction * tf.cast(length - widths + 1, tf.float32), tf.int32)
    return tf.minimum(starts, length - widths), widths


def spec_augment(patches, seed, *, time_masks: int = TIME_MASKS,
                 time_mask_frames: int = TIME_MASK_FRAMES, freq_masks: int = FREQ_MASKS,
                 freq_mask_bins: int = FREQ_MASK_BINS):
    """Zeroes random time and frequency bands of each normalized patch.

    Args:
      patches: float32 (K, P, M) with a static P and M.
      seed: (2,) stateless seed.
    Returns:
      float32 (K, P, M): the input with masked bands set to 0.
    """
    num, frames, bins = tf.shape(patches)[0], patches.shape[1], patches.shape[2]
    seed_time, seed_freq = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    masked = tf.zeros(tf.shape(patches), tf.bool)
    if time_masks:
        starts, widths = _random_bands(seed_time, num, time_masks, time_mask_frames, frames)
        masked = tf.logical_or(masked, band_mask(starts, widths, frames)[:, :, None])
    if freq_masks:
        starts, widths = _random_bands(seed_freq, num, freq_masks, freq_mask_bins, bins)
        masked = tf.logical_or(masked, band_mask(starts, widths, bins)[:, None, :])
    return tf.where(masked, tf.zeros_like(patches), patches)


# --- clips -------------------------------------------------------------------

def _train_clip(features, seed, *, num_segments, patch_frames, mean, std, augment):
    seed_sample, seed_mask = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    log_mel = features["log_mel"]
    offsets = patch_offsets(tf.shape(log_mel)[0], num_segments, patch_frames, training=True,
                            seed=seed_sample)
    patches = (gather_patches(log_mel, offsets, patch_frames) - mean) / std
    return spec_augment(patches, seed_mask, **augment)[..., None]


def eval_patches(log_mel, *, num_segments, patch_frames, mean, std):
    """(T, M) log-mel frames, T >= 1 -> float32 (K, P, M): the normalized
    patches at segment centres (evaluation and serving)."""
    offsets = patch_offsets(tf.shape(log_mel)[0], num_segments, patch_frames, training=False)
    return (gather_patches(log_mel, offsets, patch_frames) - mean) / std


def _eval_clip(features, present, *, num_segments, patch_frames, mean, std):
    """(1, K, P, M, 1): `eval_patches`, or zeros for a video without audio."""
    log_mel = features["log_mel"]
    patches = tf.cond(
            present,
            lambda: eval_patches(log_mel, num_segments=num_segments, patch_frames=patch_frames,
                                 mean=mean, std=std),
            lambda: tf.zeros([num_segments, patch_frames, log_mel.shape[-1]], tf.float32))
    return patches[None, ..., None]


# --- the dataset -------------------------------------------------------------

def make_audio_dataset(file_pattern: Union[str, Sequence[str]], *, num_segments: int,
                       training: bool, batch_size: int, mean: float = log_mel_lib.LOG_MEL_MEAN,
                       std: float = log_mel_lib.LOG_MEL_STD, patch_frames: int = PATCH_FRAMES,
                       mel_bins: int = log_mel_lib.MEL_BINS, spec_augment_options=None,
                       num_classes: Optional[int] = None, multi_label: bool = False,
                       shuffle_buffer: int = 64, cache: bool = False, seed: Optional[int] = None,
                       deterministic: bool = False, skip_corrupt: bool = False,
                       drop_remainder: Optional[bool] = None,
                       repeat: bool = False) -> tf.data.Dataset:
    """Batches of K-segment log-mel clips from SequenceExample shards (module doc).

    Args:
      file_pattern: glob or list of globs of TFRecord shards ingested with "audio".
      num_segments: K.
      training: random patch positions, SpecAugment, shuffling, videos
        without audio skipped; otherwise segment centres and a presence flag.
      batch_size: clips per batch.
      mean, std: normalization of log-mel values (scalars).
      patch_frames: P, log-mel frames per patch (10 ms each).
      mel_bins: M, mel bins stored in the shards (`AUDIO/feature/dimensions`).
      spec_augment_options: keyword arguments of `spec_augment` (training);
        None for its defaults, {} with zero counts to turn masking off.
      Other arguments: as `dataset.make_dataset`.
    """
    if num_segments < 1 or patch_frames < 1:
        raise ValueError(f"num_segments and patch_frames must be >= 1. Received: "
                         f"num_segments={num_segments}, patch_frames={patch_frames}")
    if multi_label and num_classes is None:
        raise ValueError("multi_label=True needs num_classes. Received: num_classes=None")
    paths, sizes = layout.list_shards(file_pattern)
    parse, read_log_mel = _parser(mel_bins)
    examples = index.read_shards(paths, sizes, parse, training=training,
                                     seed=seed, deterministic=deterministic,
                                     skip_corrupt=skip_corrupt)
    if training:
        examples = examples.filter(_present)
    if cache:
        examples = examples.cache()
    if repeat:
        examples = examples.repeat()
    common = dict(num_segments=num_segments, patch_frames=patch_frames,
                  mean=float(mean), std=float(std))

    def labels(features):
        return index.labels(features, num_classes, multi_label)

    if training:
        augment = dict(spec_augment_options or {})  # spec_augment's defaults for the rest
        examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        examples = tf.data.Dataset.zip((examples, seeds))

        def make(features, clip_seed):
            features = dict(features, log_mel=read_log_mel(features))
            clip = _train_clip(features, clip_seed, augment=augment, **common)
            return clip, labels(features)
    else:
        def make(features):
            present = _present(features)
            features = dict(features, log_mel=read_log_mel(features))
            extras = {"media_id": features["media_id"], "audio_present": present}
            return _eval_clip(features, present, **common), labels(features), extras

    clips = examples.map(make, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if skip_corrupt:
        clips = clips.ignore_errors(log_warning=True)
    drop = training if drop_remainder is None else drop_remainder
    options = tf.data.Options()
    options.deterministic = deterministic
    return clips.batch(batch_size, drop_remainder=drop).prefetch(AUTOTUNE).with_options(options)
