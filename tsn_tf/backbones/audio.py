"""A small audio backbone: 2-D convs over log-mel patches (time, mel, 1) -> (B, 128)."""
import keras

AUDIO_WIDTHS = (16, 32, 64, 128)


def build_audio_small(input_shape) -> keras.Model:
    """VGG-like net for log-mel patches, trained from scratch (about 0.1 M parameters).

    3x3 convs with BN and ReLU: a stride-2 stem (96x64 -> 48x32), then per
    width a conv followed by a 2x2 max pool except after the last
    (-> 12x8), then global average pooling; about 21 M multiply-adds per
    96x64 patch. Takes any (T, M, C) with T, M >= 16.
    """
    inputs = keras.Input(shape=input_shape, name="log_mel")
    x = inputs
    for stage, width in enumerate(AUDIO_WIDTHS):
        name = f"stage{stage}_conv"
        x = keras.layers.Conv2D(width, 3, strides=2 if stage == 0 else 1, padding="same",
                                use_bias=False, name=name)(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
        if 0 < stage < len(AUDIO_WIDTHS) - 1:
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, outputs, name="audio_small")
