"""Segmental consensus G(F_1..F_K) over per-segment class scores (TSN §3.1, §3.3).

All modes act on pre-softmax scores of shape (B, K, C) and return (B, C):
- ``avg``: mean over segments;
- ``max``: max over segments (gradient to the argmax snippet only);
- ``topk``: mean of the k largest scores per class;
- ``weighted``: sum_k w_k F_k with one learned weight per segment;
- ``attention``: sum_k A_k F_k with A = softmax_k(w_att · R_k), R the pooled
  backbone features (B, K, D), passed as a second input.

Weighted consensus at a different K than it was trained with (e.g. 25 test
segments after 3 training segments): the K_train weights are linearly
interpolated over segment position (segment i of K sits at (i + 0.5) / K of
the video) and rescaled to keep their sum, so K_test = K_train gives the
trained weights exactly and a constant weight vector stays a scaled average.
"""
import keras
from keras import ops

MODES = ("avg", "max", "topk", "weighted", "attention")


def interpolate_segment_weights(weights, num_segments):
    """Resamples K_train weights (K_train,) to `num_segments` positions, keeping their sum."""
    trained = ops.shape(weights)[0]
    positions = (ops.arange(num_segments, dtype="float32") + 0.5) / ops.cast(num_segments, "float32")
    coordinate = ops.clip(positions * ops.cast(trained, "float32") - 0.5,
                          0.0, ops.cast(trained - 1, "float32"))
    lower = ops.cast(ops.floor(coordinate), "int32")
    upper = ops.minimum(lower + 1, trained - 1)
    fraction = coordinate - ops.cast(lower, "float32")
    resampled = ops.take(weights, lower) * (1.0 - fraction) + ops.take(weights, upper) * fraction
    return resampled * ops.sum(weights) / ops.sum(resampled)


@keras.saving.register_keras_serializable(package="tsn_tf")
class SegmentConsensus(keras.layers.Layer):
    """Aggregates segment scores (B, K, C) into video scores (B, C).

    Args:
        mode: one of ``avg``, ``max``, ``topk``, ``weighted``, ``attention``.
        k: number of top segments averaged by ``topk`` (capped at K).
        num_segments: K used in training; needed by ``weighted``.
    """

    def __init__(self, mode="avg", k=3, num_segments=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Unknown consensus mode. Expected one of {MODES}. Received: mode={mode!r}")
        if mode == "weighted" and not num_segments:
            raise ValueError(f"Weighted consensus needs num_segments >= 1. Received: num_segments={num_segments}")
        if mode == "topk" and k < 1:
            raise ValueError(f"topk consensus needs k >= 1. Received: k={k}")
        self.mode, self.k, self.num_segments = mode, int(k), num_segments

    def build(self, input_shape):
        if self.mode == "weighted":
            self.segment_weights = self.add_weight(
                shape=(self.num_segments,), initializer=keras.initializers.Constant(1.0 / self.num_segments),
                name="segment_weights")
        elif self.mode == "attention":
            paired = isinstance(input_shape, (list, tuple)) and len(input_shape) == 2 \
                and not isinstance(input_shape[0], (int, type(None)))
            if not paired:
                raise ValueError("Attention consensus takes [scores (B,K,C), features (B,K,D)]. "
                                 f"Received input shape: {input_shape}")
            self.attention_kernel = self.add_weight(
                shape=(input_shape[1][-1],), initializer="zeros", name="attention_kernel")

    def call(self, inputs):
        if self.mode == "attention":
            scores, features = inputs
            attention = ops.softmax(ops.einsum("bkd,d->bk", features, self.attention_kernel), axis=1)
            return ops.einsum("bk,bkc->bc", attention, scores)
        scores = inputs
        if self.mode == "avg":
            return ops.mean(scores, axis=1)
        if self.mode == "max":
            return ops.max(scores, axis=1)
        if self.mode == "topk":
            per_class = ops.transpose(scores, (0, 2, 1))
            k = self.k if scores.shape[1] is None else min(self.k, scores.shape[1])
            return ops.mean(ops.top_k(per_class, k, sorted=False)[0], axis=-1)
        weights = self.segment_weights
        if scores.shape[1] != self.num_segments:
            weights = interpolate_segment_weights(weights, ops.shape(scores)[1])
        return ops.einsum("k,bkc->bc", weights, scores)

    def compute_output_shape(self, input_shape):
        scores_shape = input_shape[0] if self.mode == "attention" else input_shape
        return (scores_shape[0], scores_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "k": self.k, "num_segments": self.num_segments}
