"""Cross-modality init: exact kernels from an RGB model or an RGB weights file."""
import numpy as np
import pytest

from tsn_tf import backbones
from tsn_tf.cross_modality import cross_modality_init, first_conv
from tsn_tf.model import build_tsn

SIZE = 32


def _randomized(model, seed=0):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    return model


def _assert_cross_modality(rgb, target, channels):
    rgb_kernel = first_conv(rgb).kernel.numpy()
    kernel = first_conv(target).kernel.numpy()
    assert kernel.shape == rgb_kernel.shape[:2] + (channels,) + rgb_kernel.shape[3:]
    expected = rgb_kernel.mean(axis=2, keepdims=True)
    for channel in range(channels):
        np.testing.assert_array_equal(kernel[:, :, channel:channel + 1], expected)
    for source, copied in zip(rgb.weights[1:], target.weights[1:]):
        np.testing.assert_array_equal(source.numpy(), copied.numpy())


@pytest.mark.parametrize("modality, channels", [("flow", 10), ("rgb_diff", 15)])
def test_from_rgb_tsn_model(modality, channels):
    rgb = _randomized(build_tsn(4, backbone="tiny", num_segments=3, input_size=SIZE))
    target = build_tsn(4, backbone="tiny", modality=modality, num_segments=3, input_size=SIZE,
                       cross_modality_from=rgb)
    _assert_cross_modality(rgb.get_layer("backbone").layer, target.get_layer("backbone").layer,
                           channels)


def test_from_rgb_weights_file(tmp_path):
    rgb = _randomized(backbones.get_backbone("tiny", input_shape=(SIZE, SIZE, 3)), seed=3)
    path = tmp_path / "rgb.weights.h5"
    rgb.save_weights(path)
    flow = build_tsn(4, backbone="tiny", modality="flow", input_size=SIZE, weights=str(path))
    _assert_cross_modality(rgb, flow.get_layer("backbone").layer, 10)


def test_architecture_mismatch_is_an_error():
    rgb = backbones.get_backbone("tiny", input_shape=(SIZE, SIZE, 3))
    other = backbones.get_backbone("bn_inception", input_shape=(SIZE, SIZE, 10))
    with pytest.raises(ValueError, match="same architecture"):
        cross_modality_init(rgb, other)
