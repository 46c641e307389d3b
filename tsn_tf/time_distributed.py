"""`TimeDistributed` that folds segments into the batch.

Keras' own `TimeDistributed` unrolls a Python loop over a static time axis
(K copies of the backbone in the graph, each BN seeing B images) and goes
through `vectorized_map` for a `None` time axis, which is wrong in graph mode
(DESIGN.md §2). TSN runs the backbone once on B·K images: reshape
(B, K, ...) -> (B·K, ...), call the layer once, reshape back.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tsn_tf")
class TimeDistributed(keras.layers.TimeDistributed):
    """Applies `layer` to every segment of a (B, K, ...) input in one call.

    Works for a fixed or a `None` K, eagerly and inside `tf.function`.
    Masks are not supported (TSN has none).
    """

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            raise ValueError(f"{self.name}: masks are not supported. Received: mask={mask}")
        dynamic_shape = ops.shape(inputs)
        batch, segments = dynamic_shape[0], dynamic_shape[1]
        folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        outputs = self.layer(folded, **kwargs)
        return ops.reshape(outputs, (batch, segments, *outputs.shape[1:]))
