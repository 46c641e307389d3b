"""Tests for the backbone registry tsn_tf.backbones."""
import dataclasses

import keras
import numpy as np
import pytest

from tsn_tf import backbones
from tsn_tf.backbones import bn_inception
from tsn_tf.backbones.channel_order import ReverseChannels

SMALL_SIZE = {"inception_v3": 75}  # others build from 32x32
# Same code path as resnet50; 3-6 s per build on 2 shared cores.
SLOW = {"resnet101", "resnet152", "resnet101_pt", "resnet152_pt"}

# Reference BN-Inception (Cadene pretrainedmodels `bninception`, the port of
# TSN's bn_inception.prototxt), per inception block: (input channels, 1x1,
# 3x3 reduce, 3x3, double 3x3 reduce, double 3x3, pool proj); 1x1 None marks
# the stride-2 blocks (no 1x1, no pool projection).
REFERENCE_BLOCKS = {
    "3a": (192, 64, 64, 64, 64, 96, 32),
    "3b": (256, 64, 64, 96, 64, 96, 64),
    "3c": (320, None, 128, 160, 64, 96, None),
    "4a": (576, 224, 64, 96, 96, 128, 128),
    "4b": (576, 192, 96, 128, 96, 128, 128),
    "4c": (576, 160, 128, 160, 128, 160, 128),
    "4d": (608, 96, 128, 192, 160, 192, 128),
    "4e": (608, None, 128, 192, 192, 256, None),
    "5a": (1056, 352, 192, 320, 160, 224, 128),
    "5b": (1024, 352, 192, 320, 192, 224, 128),
}


def _reference_convs():
    """Reference conv layers: name -> (in, out, kernel, stride)."""
    convs = {"conv1_7x7_s2": (3, 64, 7, 2),
             "conv2_3x3_reduce": (64, 64, 1, 1),
             "conv2_3x3": (64, 192, 3, 1)}
    for block, widths in REFERENCE_BLOCKS.items():
        cin, c1x1, r3x3, c3x3, rdouble, cdouble, cproj = widths
        prefix, stride = f"inception_{block}", 2 if c1x1 is None else 1
        if c1x1 is not None:
            convs[f"{prefix}_1x1"] = (cin, c1x1, 1, 1)
            convs[f"{prefix}_pool_proj"] = (cin, cproj, 1, 1)
        convs[f"{prefix}_3x3_reduce"] = (cin, r3x3, 1, 1)
        convs[f"{prefix}_3x3"] = (r3x3, c3x3, 3, stride)
        convs[f"{prefix}_double_3x3_reduce"] = (cin, rdouble, 1, 1)
        convs[f"{prefix}_double_3x3_1"] = (rdouble, cdouble, 3, 1)
        convs[f"{prefix}_double_3x3_2"] = (cdouble, cdouble, 3, stride)
    return convs


REFERENCE_CONVS = _reference_convs()


def _images(size, channels, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, size, size, channels)
    return rng.uniform(-1.0, 1.0, shape).astype("float32")


def _build_params():
    for name in backbones.names():
        for channels in (3, 10):
            marks = [pytest.mark.slow] if name in SLOW else []
            yield pytest.param(name, channels, marks=marks,
                               id=f"{name}-c{channels}")


@pytest.mark.parametrize("name, channels", list(_build_params()))
def test_every_backbone_builds_and_pools_to_feature_dim(name, channels):
    size = SMALL_SIZE.get(name, 32)
    model = backbones.get_backbone(name, input_shape=(size, size, channels))
    features = np.asarray(model(_images(size, channels)))
    assert features.shape == (2, backbones.spec(name).feature_dim)
    assert np.all(np.isfinite(features))
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)


def test_names_lists_the_registered_backbones():
    assert backbones.names() == ["audio_small", "bn_inception", "inception_v3", "resnet101",
                                 "resnet101_pt", "resnet152", "resnet152_pt", "resnet50",
                                 "resnet50_pt", "small", "tiny", "vgg16"]


@pytest.mark.parametrize("call", [
    lambda: backbones.spec("googlenet"),
    lambda: backbones.get_backbone("googlenet", input_shape=(32, 32, 3)),
])
def test_unknown_name_raises_listing_known_names(call):
    match = "Unknown backbone 'googlenet'. Known: audio_small, bn_inception, .*, vgg16"
    with pytest.raises(ValueError, match=match):
        call()


SPEC_GOLDEN = {
    # name: (input_size, rgb_mean, rgb_std, flow_mean, flow_std, feature_dim)
    "bn_inception": (224, (128, 117, 104), (1, 1, 1), 128, 1, 1024),
    "inception_v3": (299, (127.5,) * 3, (127.5,) * 3, 128, 127.5, 2048),
    "resnet50": (224, (123.68, 116.779, 103.939), (1, 1, 1), 128, 1, 2048),
    "resnet101": (224, (123.68, 116.779, 103.939), (1, 1, 1), 128, 1, 2048),
    "resnet152": (224, (123.68, 116.779, 103.939), (1, 1, 1), 128, 1, 2048),
    # torchvision / mmaction2 ImageNet mean and std; mmaction2 flow 128 / 128
    **{name: (224, (123.675, 116.28, 103.53), (58.395, 57.12, 57.375), 128, 128, 2048)
       for name in ("resnet50_pt", "resnet101_pt", "resnet152_pt")},
    "vgg16": (224, (123.68, 116.779, 103.939), (1, 1, 1), 128, 1, 4096),
    "tiny": (32, (127.5,) * 3, (127.5,) * 3, 128, 127.5, 32),
    "small": (64, (127.5,) * 3, (127.5,) * 3, 128, 127.5, 128),
    "audio_small": (96, (0, 0, 0), (1, 1, 1), 0, 1, 128),
}


@pytest.mark.parametrize("name", sorted(SPEC_GOLDEN))
def test_spec_golden_values(name):
    spec = backbones.spec(name)
    got = (spec.input_size, spec.rgb_mean, spec.rgb_std, spec.flow_mean,
           spec.flow_std, spec.feature_dim)
    assert spec.name == name
    np.testing.assert_equal([np.asarray(v, float) for v in got],
                            [np.asarray(v, float) for v in SPEC_GOLDEN[name]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.feature_dim = 1


def test_bn_inception_convs_match_the_reference_layer_list():
    model = backbones.get_backbone("bn_inception", input_shape=(224, 224, 3))
    convs = {layer.name: layer for layer in model.layers
             if isinstance(layer, keras.layers.Conv2D)}
    assert sorted(convs) == sorted(REFERENCE_CONVS)
    for name, (cin, cout, kernel, stride) in REFERENCE_CONVS.items():
        conv = convs[name]
        assert tuple(conv.kernel.shape) == (kernel, kernel, cin, cout), name
        assert conv.use_bias and conv.strides == (stride, stride), name
        bn = model.get_layer(f"{name}_bn")
        assert bn.epsilon == 1e-5 and tuple(bn.gamma.shape) == (cout,), name


def test_bn_inception_parameter_count_golden():
    model = backbones.get_backbone("bn_inception", input_shape=(224, 224, 3))
    # Convs with bias + BN gamma/beta, from the reference layer list;
    # plus the fc layer (1024 x 1000 + 1000) this is the reference's 11.3 M.
    trainable = sum(cin * cout * k * k + cout + 2 * cout
                    for cin, cout, k, _ in REFERENCE_CONVS.values())
    moving_stats = sum(2 * cout for _, cout, _, _ in REFERENCE_CONVS.values())
    assert trainable == 10_270_240
    assert trainable + 1024 * 1000 + 1000 == 11_295_240
    trainable_weights = model.trainable_weights
    assert sum(int(np.prod(w.shape)) for w in trainable_weights) == trainable
    assert model.count_params() == trainable + moving_stats == 10_290_272


def test_bn_inception_feature_map_sizes_at_224():
    model = backbones.get_backbone("bn_inception", input_shape=(224, 224, 3))
    expected = {"pool1_3x3_s2": (56, 56, 64), "pool2_3x3_s2": (28, 28, 192),
                "inception_3b_output": (28, 28, 320),
                "inception_3c_output": (14, 14, 576),
                "inception_4e_output": (7, 7, 1056),
                "inception_5b_output": (7, 7, 1024)}
    for name, shape in expected.items():
        assert tuple(model.get_layer(name).output.shape[1:]) == shape, name


@pytest.mark.parametrize("size, block", [(200, "3c"), (208, "4e")])
def test_bn_inception_rejects_sizes_its_stride_2_blocks_cannot_take(
        size, block):
    match = f"input height {size}.*inception_{block}.*multiple of 32"
    with pytest.raises(ValueError, match=match):
        backbones.get_backbone("bn_inception", input_shape=(size, 224, 3))


def test_bn_inception_builds_at_sizes_that_are_not_multiples_of_32():
    model = backbones.get_backbone("bn_inception", input_shape=(230, 230, 3))
    output = model.get_layer("inception_5b_output").output
    assert tuple(output.shape[1:]) == (7, 7, 1024)


def test_bn_inception_reverses_channels_only_for_rgb():
    rgb = backbones.get_backbone("bn_inception", input_shape=(32, 32, 3))
    flow = backbones.get_backbone("bn_inception", input_shape=(32, 32, 10))
    assert isinstance(rgb.get_layer("rgb_to_bgr"), ReverseChannels)
    assert "rgb_to_bgr" not in [layer.name for layer in flow.layers]


def _wrap(build, size, channels=1):
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, build(inputs))


def _numpy_pool(x, reduce, kernel, stride, out_size):
    """2-D pooling of x (H, W) over clipped windows, Caffe style."""
    out = np.empty((out_size, out_size), x.dtype)
    for i in range(out_size):
        for j in range(out_size):
            rows = slice(i * stride, i * stride + kernel)
            cols = slice(j * stride, j * stride + kernel)
            window = x[rows, cols]
            out[i, j] = reduce(window)
    return out


@pytest.mark.parametrize("size", [7, 8])
def test_ceil_max_pool_matches_caffe_ceil_mode(size):
    x = _images(size, 1, batch=1, seed=1) + 1.0  # >= 0, as after a ReLU
    model = _wrap(lambda t: bn_inception._ceil_max_pool(t, "pool"), size)
    out_size = -(-(size - 3) // 2) + 1  # ceil((size - 3) / 2) + 1
    expected = _numpy_pool(x[0, :, :, 0], np.max, 3, 2, out_size)
    np.testing.assert_allclose(np.asarray(model(x))[0, :, :, 0], expected)


def test_inception_avg_pool_counts_padding_like_caffe():
    size = 5
    x = _images(size, 1, batch=1, seed=2)
    block = _wrap(lambda t: bn_inception._pool_branch(t, "p", "avg", 1), size)
    pooled = keras.Model(block.input, block.get_layer("p_pool").output)
    padded = np.pad(x[0, :, :, 0], 1)
    expected = _numpy_pool(padded, lambda w: w.sum() / 9.0, 3, 1, size)
    np.testing.assert_allclose(np.asarray(pooled(x))[0, :, :, 0], expected,
                               rtol=1e-5, atol=1e-6)


def test_strided_conv_pads_symmetrically_like_caffe():
    size = 8
    x = _images(size, 1, batch=1, seed=3) + 1.0  # >= 0: ReLU keeps it

    def strided_conv(t):
        return bn_inception._conv_bn_relu(t, 1, 3, "c", "r", strides=2)

    model = _wrap(strided_conv, size)
    kernel = np.zeros((3, 3, 1, 1), "float32")
    kernel[1, 1] = 1.0  # centre tap: output (i, j) reads input (2i, 2j)
    model.get_layer("c").set_weights([kernel, np.zeros(1, "float32")])
    expected = x[0, ::2, ::2, 0] / np.sqrt(1.0 + 1e-5)  # fresh BN at inference
    np.testing.assert_allclose(np.asarray(model(x))[0, :, :, 0], expected,
                               rtol=1e-5)


def test_resnet_takes_rgb_and_feeds_keras_resnet_bgr():
    model = backbones.get_backbone("resnet50", input_shape=(32, 32, 3))
    plain = keras.applications.ResNet50(include_top=False, weights=None,
                                        input_shape=(32, 32, 3), pooling="avg")
    plain.set_weights(model.get_weights())
    rgb = _images(32, 3, batch=1)
    bgr = rgb[..., ::-1].copy()
    np.testing.assert_allclose(np.asarray(model(rgb)), np.asarray(plain(bgr)),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(model(rgb)), np.asarray(plain(rgb)))


# VGG16, configuration D of Simonyan & Zisserman: 3x3 convs, "M" = 2x2 max pool
VGG16_CONFIG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                  512, 512, 512, "M"]


@pytest.mark.parametrize("size, channels", [(32, 3), (32, 10), (64, 3)])
def test_vgg16_parameter_count_by_hand(size, channels):
    """Convs of configuration D, then fc6 on the flattened (size/32)^2 x 512 map and
    fc7, 4096 each (fc8 is TSN's classifier, not the backbone's)."""
    count, width = 0, channels
    for item in VGG16_CONFIG_D:
        if item != "M":
            count += 3 * 3 * width * item + item
            width = item
    count += (size // 32) ** 2 * 512 * 4096 + 4096 + 4096 * 4096 + 4096
    model = backbones.get_backbone("vgg16", input_shape=(size, size, channels))
    assert model.count_params() == count
    assert len([layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]) == 13


def test_vgg16_224_rgb_is_the_paper_count():
    # 138,357,544 weights of VGG16 less fc8 (4096 x 1000 + 1000 = 4,097,000)
    model = backbones.get_backbone("vgg16", input_shape=(224, 224, 3))
    assert model.count_params() == 138_357_544 - 4_097_000


def test_vgg16_takes_rgb_and_feeds_keras_vgg16_bgr_fc7():
    model = backbones.get_backbone("vgg16", input_shape=(32, 32, 3))
    plain = keras.applications.VGG16(include_top=True, weights=None, input_shape=(32, 32, 3))
    plain.set_weights(model.get_weights() + [np.zeros((4096, 1000), "float32"),
                                             np.zeros(1000, "float32")])
    fc7 = keras.Model(plain.input, plain.get_layer("fc2").output)
    rgb = _images(32, 3, batch=1)
    np.testing.assert_allclose(np.asarray(model(rgb)), np.asarray(fc7(rgb[..., ::-1].copy())),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(model(rgb)), np.asarray(fc7(rgb)))
    assert np.all(np.asarray(model(rgb)) >= 0)  # fc7 after its ReLU


@pytest.mark.parametrize("input_shape, weights, match", [
    ((None, None, 3), None, "fixed height and width"),
    ((112, 112, 3), "imagenet", "224 x 224"),
])
def test_vgg16_shape_errors(input_shape, weights, match):
    with pytest.raises(ValueError, match=match):
        backbones.get_backbone("vgg16", input_shape=input_shape, weights=weights)


def test_inception_v3_takes_rgb_unreversed():
    model = backbones.get_backbone("inception_v3", input_shape=(75, 75, 3))
    assert not any(isinstance(layer, ReverseChannels)
                   for layer in model.layers)


def test_reverse_channels_layer_round_trips_through_keras_saving(tmp_path):
    inputs = keras.Input((2, 2, 3))
    model = keras.Model(inputs, ReverseChannels(name="rgb_to_bgr")(inputs))
    x = np.arange(12, dtype="float32").reshape(1, 2, 2, 3)
    np.testing.assert_array_equal(np.asarray(model(x)), x[..., ::-1])
    model.save(tmp_path / "reverse.keras")
    loaded = keras.saving.load_model(tmp_path / "reverse.keras")
    assert isinstance(loaded.get_layer("rgb_to_bgr"), ReverseChannels)
    np.testing.assert_array_equal(np.asarray(loaded(x)), x[..., ::-1])


def test_tiny_has_two_batch_norms_and_a_biased_first_conv():
    model = backbones.get_backbone("tiny", input_shape=(32, 32, 3))
    bns = [layer for layer in model.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
    convs = [layer for layer in model.layers
             if isinstance(layer, keras.layers.Conv2D)]
    assert len(bns) >= 2
    assert convs[0].use_bias and not convs[1].use_bias


@pytest.mark.parametrize("filename, save", [
    ("tiny.weights.h5", lambda model, path: model.save_weights(path)),
    ("tiny.keras", lambda model, path: model.save(path)),
])
def test_local_weights_file_round_trip(tmp_path, filename, save):
    path = tmp_path / filename
    saved = backbones.get_backbone("tiny", input_shape=(32, 32, 10))
    save(saved, path)
    loaded = backbones.get_backbone("tiny", input_shape=(32, 32, 10),
                                    weights=str(path))
    fresh = backbones.get_backbone("tiny", input_shape=(32, 32, 10))
    x = _images(32, 10)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(saved(x)))
    assert not np.array_equal(np.asarray(fresh(x)), np.asarray(saved(x)))


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_file_from_other_channel_count_raises(tmp_path):
    path = tmp_path / "rgb.weights.h5"
    backbones.get_backbone("tiny", input_shape=(32, 32, 3)).save_weights(path)
    with pytest.raises(ValueError, match="shape"):
        backbones.get_backbone("tiny", input_shape=(32, 32, 10), weights=path)


def test_missing_weights_file_raises_naming_the_path(tmp_path):
    path = tmp_path / "missing.weights.h5"
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        backbones.get_backbone("tiny", input_shape=(32, 32, 3), weights=path)


def test_weights_of_unknown_form_raise():
    with pytest.raises(ValueError, match=r"\.weights\.h5.*'imagenett'"):
        backbones.get_backbone("tiny", input_shape=(32, 32, 3),
                               weights="imagenett")


@pytest.mark.parametrize("name", ["bn_inception", "tiny"])
def test_imagenet_without_bundled_weights_raises(name):
    match = f"No ImageNet weights .* {name!r}.*local"
    with pytest.raises(ValueError, match=match):
        backbones.get_backbone(name, input_shape=(224, 224, 3),
                               weights="imagenet")


def test_imagenet_with_flow_channels_points_to_cross_modality_init():
    with pytest.raises(ValueError, match="3 input channels.*cross-modality"):
        backbones.get_backbone("resnet50", input_shape=(224, 224, 10),
                               weights="imagenet")


@pytest.mark.parametrize("input_shape, match", [
    ((16, 16, 3), "at least 32"),
    ((224, 224), "height, width, channels"),
    ((224, 224, None), "height, width, channels"),
])
def test_bad_input_shape_raises(input_shape, match):
    with pytest.raises(ValueError, match=match):
        backbones.get_backbone("tiny", input_shape=input_shape)


def test_unknown_spatial_size_builds():
    model = backbones.get_backbone("bn_inception", input_shape=(None, None, 3))
    assert np.asarray(model(_images(64, 3, batch=1))).shape == (1, 1024)


def test_small_parameter_count_by_hand():
    """Stem 3x3x3x32, then per width w (32, 64, 128) a 3x3 w_in->w and a 3x3 w->w conv,
    no biases; every conv has a BN with 4 x w values."""
    convs = [3 * 3 * 3 * 32, 9 * 32 * 32, 9 * 32 * 32, 9 * 32 * 64, 9 * 64 * 64,
             9 * 64 * 128, 9 * 128 * 128]
    batch_norms = 4 * (32 + 32 + 32 + 64 + 64 + 128 + 128)
    model = backbones.get_backbone("small", input_shape=(64, 64, 3))
    assert model.count_params() == sum(convs) + batch_norms == 297_696


def test_audio_small_pools_a_log_mel_patch_to_128_features():
    model = backbones.get_backbone("audio_small", input_shape=(96, 64, 1))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [conv.filters for conv in convs] == [16, 32, 64, 128]
    assert model.get_layer("stage3_conv_relu").output.shape[1:3] == (12, 8)
    assert model.count_params() < 150_000
    features = model(np.random.default_rng(0).normal(size=(2, 96, 64, 1)).astype("float32"))
    assert features.shape == (2, 128)


@pytest.mark.parametrize("name, blocks", [
    pytest.param(name, blocks, marks=[pytest.mark.slow] if name in SLOW else [])
    for name, blocks in [("resnet50_pt", (3, 4, 6, 3)), ("resnet101_pt", (3, 4, 23, 3))]])
def test_resnet_pt_strides_the_3x3_pads_symmetrically_and_has_no_conv_bias(name, blocks):
    model = backbones.get_backbone(name, input_shape=(None, None, 3))
    convs = {layer.name: layer for layer in model.layers
             if isinstance(layer, keras.layers.Conv2D)}
    assert len(convs) == 1 + 3 * sum(blocks) + 4  # stem, 3 per block, 4 projections
    assert not any(conv.use_bias for conv in convs.values())
    for stage in (2, 3, 4):  # torchvision Bottleneck: stride on conv2 (ResNet v1.5)
        assert convs[f"layer{stage}_0_conv1"].strides == (1, 1)
        assert convs[f"layer{stage}_0_conv2"].strides == (2, 2)
        assert convs[f"layer{stage}_0_downsample_0"].strides == (2, 2)
        assert model.get_layer(f"layer{stage}_0_conv2_pad").padding == ((1, 1), (1, 1))
    assert all(layer.epsilon == 1e-5 for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    assert not any(isinstance(layer, ReverseChannels) for layer in model.layers)  # RGB weights
