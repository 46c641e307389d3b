"""ReverseChannels: RGB <-> BGR as a layer, so every backbone takes RGB."""
import keras


@keras.saving.register_keras_serializable(package="tsn_tf")
class ReverseChannels(keras.layers.Layer):
    """Reverses the last (channel) axis: RGB in, BGR out (and vice versa).

    Placed in front of backbones whose weights expect BGR (Caffe-style
    ResNet, BN-Inception) so callers always feed RGB. Has no weights.
    """

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape
