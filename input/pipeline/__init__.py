"""The tf.data pipeline: indexed shards (the `contract`) -> batches of TSN clips.

Its stages, in `dataset.make_dataset`'s order: `index` (shards -> a parsed
index record per video), `sampling` (which frames), `snippet_frames` (read
only their records), `train_clips` / `eval_views` (decode, crop, flip,
resize, normalize, with `crops` and `modalities`), then batch. `records`
reads the indexed file format in tf.data; `audio_dataset` is the audio
stream's pipeline; `frame_check` names a frame that does not decode.
Imports the `contract`, never `ingestion`.
"""
from tsn_tf._moved import moved_attributes
from tsn_tf.input.pipeline.dataset import ClipSpec, list_videos, make_dataset  # noqa: F401

__getattr__ = moved_attributes(__name__, {
    "finish_deferred": "tsn_tf.ops.deferred",
    "eval_short_side": "tsn_tf.input.pipeline.eval_views",
    "rescaled_size": "tsn_tf.input.pipeline.eval_views",
    "default_canvas_size": "tsn_tf.input.pipeline.train_clips",
})
