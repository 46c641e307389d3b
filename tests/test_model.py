"""build_tsn: shapes per modality, classifier init, dropout defaults, errors."""
import keras
import numpy as np
import pytest

from tsn_tf.model import build_tsn, with_num_segments

SIZE = 32


@pytest.mark.parametrize("modality, channels, dropout", [
    ("rgb", 3, 0.8), ("flow", 10, 0.7), ("warped_flow", 10, 0.7), ("rgb_diff", 15, 0.8)])
def test_modalities_shape_input_and_dropout(modality, channels, dropout):
    model = build_tsn(6, backbone="tiny", modality=modality, num_segments=3, input_size=SIZE)
    assert model.input_shape == (None, 3, SIZE, SIZE, channels)
    assert model.output_shape == (None, 6)
    assert model.get_layer("dropout").rate == dropout
    clips = np.zeros((2, 3, SIZE, SIZE, channels), "float32")
    assert model(clips).shape == (2, 6)


def test_classifier_init_is_normal_std_0001_zero_bias():
    model = build_tsn(200, backbone="tiny", num_segments=1, input_size=SIZE)
    dense = model.get_layer("classifier").layer
    kernel = dense.kernel.numpy()
    assert abs(kernel.std() - 0.001) < 0.0001 and abs(kernel.mean()) < 0.0001
    np.testing.assert_array_equal(dense.bias.numpy(), 0.0)


@pytest.mark.parametrize("consensus", ["avg", "max", "topk", "weighted", "attention"])
def test_every_consensus_builds_and_reevaluates_at_25(consensus):
    model = build_tsn(4, backbone="tiny", num_segments=3, consensus=consensus, topk=2,
                      input_size=SIZE)
    eval_model = with_num_segments(model, 25)
    clips = np.random.default_rng(0).normal(size=(1, 25, SIZE, SIZE, 3)).astype("float32")
    assert eval_model(clips).shape == (1, 4)


def test_keras_file_round_trip(tmp_path):
    model = build_tsn(4, backbone="tiny", num_segments=3, consensus="weighted", input_size=SIZE)
    model.get_layer("classifier").layer.bias.assign([1.0, 2.0, 3.0, 4.0])
    model.save(tmp_path / "tsn.keras")
    loaded = keras.saving.load_model(tmp_path / "tsn.keras")
    clips = np.random.default_rng(1).normal(size=(2, 3, SIZE, SIZE, 3)).astype("float32")
    np.testing.assert_allclose(loaded(clips), model(clips), rtol=1e-5, atol=1e-6)


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="num_segments=0"):
        build_tsn(4, backbone="tiny", num_segments=0)
    with pytest.raises(ValueError, match="Unknown modality 'depth'"):
        build_tsn(4, backbone="tiny", modality="depth")
    with pytest.raises(ValueError, match="Unknown backbone 'vgg'"):
        build_tsn(4, backbone="vgg")


def test_audio_takes_log_mel_patches_whatever_the_input_size():
    model = build_tsn(5, backbone="audio_small", modality="audio", num_segments=3,
                      input_size=224, partial_bn=False)
    assert model.input_shape == (None, 3, 96, 64, 1)
    assert model.get_layer("dropout").rate == 0.5
    clips = np.random.default_rng(0).normal(size=(2, 3, 96, 64, 1)).astype("float32")
    assert model(clips).shape == (2, 5)
    eval_model = with_num_segments(model, 25)
    assert eval_model.input_shape == (None, 25, 96, 64, 1)


def test_audio_patch_shape_matches_the_audio_pipeline():
    from tsn_tf.input.contract import log_mel
    from tsn_tf.input.pipeline import audio_dataset
    from tsn_tf.modalities import get_modality
    spec = get_modality("audio")
    assert spec.item_shape == (audio_dataset.PATCH_FRAMES, log_mel.MEL_BINS)
    assert spec.channels == 1
