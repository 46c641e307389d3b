"""tsn-convert against PyTorch references: BN-Inception .pth (zip, legacy, (1, C) BN),
TSN Caffe .caffemodel, mmaction2 TSN ResNet checkpoints; the restricted unpickler."""
import json
import os
import pickle
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import torch

import torch_reference as ref
from tsn_tf import backbones
from tsn_tf.backbones.weights import read_normalization
from tsn_tf.convert import caffemodel, convert, pth, sources
from tsn_tf.input.contract.preprocessing import Preprocessing
from tsn_tf.trainers.model_dir import RunConfig, read_label_map, restore_model

TOLERANCE = 1e-4
# Published input normalizations (pretrainedmodels bninception settings, TSN
# Caffe data layer, mmaction2 TSN configs), written again here.
PRETRAINEDMODELS_BGR_MEAN = (104.0, 117.0, 128.0)
CAFFE_BGR_MEAN = (104.0, 117.0, 123.0)
MMACTION2_MEAN = (123.675, 116.28, 103.53)
MMACTION2_STD = (58.395, 57.12, 57.375)


def _images(size, channels=3, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, channels)).astype(
        np.float32)


def _bninception_reference(size, num_classes=1000, in_channels=3, bgr_mean=None):
    """Random pretrainedmodels BN-Inception and its torch input for RGB / flow images."""
    torch.manual_seed(0)  # the conv / linear initial weights
    model = ref.bninception(num_classes, in_channels)
    images = _images(size, in_channels)
    if in_channels == 3:
        torch_input = ref.nchw(images[..., ::-1] - np.array(bgr_mean, np.float32))
    else:
        torch_input = ref.nchw(images - 128.0)
    return ref.randomize(model, torch_input), images, torch_input


def _assert_close(actual, expected, relative=False):
    """Largest |difference|: < 1e-4 (features: times their largest magnitude, 4-17 here).

    Float32 rounding through these random 50-100 layer nets alone reaches
    1e-4 on features (torch float32 against float64 differs as much); the
    float64 test shows the conversion itself exact to 1e-9.
    """
    difference = float(np.max(np.abs(actual - expected)))
    scale = float(np.max(np.abs(expected)))
    assert scale > 0.1  # not a trivially small comparison
    assert difference < TOLERANCE * (max(scale, 1.0) if relative else 1.0), (difference, scale)
    return f"{difference:.1e} (largest |value| {scale:.1f})"


def _tsn_caffe_file(path, model):
    caffemodel.write_net(str(path), ref.caffe_layers(model))
    return str(path)


@pytest.fixture
def float64_keras():
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("source", ["bn_inception_pth", "mmaction2"])
def test_conversion_is_exact_in_float64(tmp_path, float64_keras, source):
    """Keras built in float64 against PyTorch in float64: equal to rounding (1e-9)."""
    if source == "mmaction2":
        resnet, _, torch_input, path = _mmaction2_reference(tmp_path)
        name = "resnet50_pt"
        expected, _ = ref.resnet_features(resnet, torch_input)
    else:
        model, _, torch_input = _bninception_reference(64, 10, bgr_mean=PRETRAINEDMODELS_BGR_MEAN)
        path = str(tmp_path / "bn.pth")
        torch.save(model.state_dict(), path)
        name = "bn_inception"
        expected, _ = ref.bninception_features(model, torch_input)
    ours = backbones.get_backbone(name, input_shape=(64, 64, 3))
    assert ours.weights[0].dtype == "float64"
    convert.fill_backbone(ours, sources.read(source, path), set())
    # the very float32 values PyTorch got (normalization is checked in float32 below)
    normalized = torch_input.numpy().transpose(0, 2, 3, 1).astype(np.float64)
    if name == "bn_inception":
        normalized = normalized[..., ::-1]
    features = ours(normalized, training=False)
    difference = float(np.max(np.abs(np.asarray(features) - expected)))
    print(source, "float64 difference", difference)
    assert difference < 1e-9 and np.max(np.abs(expected)) > 1


# --- BN-Inception ImageNet .pth -----------------------------------------------

def _legacy_tsn_state(model):
    """The TSN authors' variant: classifier fc.*, every BN tensor (1, C)."""
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace("last_linear.", "fc.")
        if "_bn." in key and not key.endswith("num_batches_tracked"):
            value = value.view(1, -1)
        state[key] = value
    return state


@pytest.mark.parametrize("variant", ["pretrainedmodels_zip", "tsn_legacy_1xC"])
def test_bn_inception_pth_weights_file_matches_pytorch_features(tmp_path, variant):
    model, images, torch_input = _bninception_reference(64, 10, bgr_mean=PRETRAINEDMODELS_BGR_MEAN)
    path = str(tmp_path / "bn_inception.pth")
    if variant == "pretrainedmodels_zip":
        torch.save(model.state_dict(), path)
    else:
        torch.save(_legacy_tsn_state(model), path, _use_new_zipfile_serialization=False)
    output = str(tmp_path / "bn_inception.weights.h5")
    report = convert.write_backbone(sources.read("bn_inception_pth", path), output)
    assert report.unused == ["fc.bias" if "legacy" in variant else "last_linear.bias",
                             "fc.weight" if "legacy" in variant else "last_linear.weight"]
    sidecar = read_normalization(output)
    assert sidecar["rgb_mean"][::-1] == list(PRETRAINEDMODELS_BGR_MEAN)
    assert sidecar["rgb_std"] == [1.0, 1.0, 1.0] and sidecar["weights_channel_order"] == "BGR"
    keras_model = backbones.get_backbone("bn_inception", input_shape=(64, 64, 3), weights=output)
    features = keras_model((images - np.array(sidecar["rgb_mean"], np.float32))
                           / np.array(sidecar["rgb_std"], np.float32), training=False)
    expected, _ = ref.bninception_features(model, torch_input)
    print(variant, "largest feature difference", _assert_close(np.asarray(features), expected, relative=True))


def test_full_size_bn_inception_pth_matches_pytorch_logits(tmp_path):
    model, images, torch_input = _bninception_reference(224, bgr_mean=PRETRAINEDMODELS_BGR_MEAN)
    path = str(tmp_path / "bn_inception-52deb4733.pth")
    torch.save(model.state_dict(), path)
    output = str(tmp_path / "bn_inception.weights.h5")
    convert.write_backbone(sources.read("bn_inception_pth", path), output)
    keras_model = backbones.get_backbone("bn_inception", input_shape=(224, 224, 3), weights=output)
    features = np.asarray(keras_model(images - np.array(PRETRAINEDMODELS_BGR_MEAN[::-1]),
                                      training=False))
    state = model.state_dict()
    logits = features @ state["last_linear.weight"].numpy().T + state["last_linear.bias"].numpy()
    with torch.no_grad():
        expected_logits = model(torch_input).numpy()  # the package's own forward, AvgPool2d(7)
    print("full-size logits difference", _assert_close(logits, expected_logits))


def test_python2_latin1_legacy_pickle_is_read(tmp_path):
    """A legacy file of a GPU tensor whose strings are Python 2 byte strings (SHORT_BINSTRING)."""
    values = np.arange(6, dtype=np.float32)
    body = (b"\x80\x02}("                                   # PROTO 2, EMPTY_DICT, MARK
            + b"U\x06conv_w"                                  # key: SHORT_BINSTRING
            + b"ctorch._utils\n_rebuild_tensor\n("            # GLOBAL, MARK (args)
            + b"(U\x07storagectorch.cuda\nFloatStorage\nU\x010U\x06cuda:0K\x06Nt"  # GPU-saved
            + b"Q"                                             # BINPERSID
            + b"K\x00K\x02K\x03\x86K\x03K\x01\x86t"         # offset, size, stride
            + b"Ru.")                                          # REDUCE, SETITEMS, STOP
    path = tmp_path / "py2.pth"
    with open(path, "wb") as f:
        for header in (pth.LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(body)
        pickle.dump(["0"], f, protocol=2)
        f.write(np.int64(6).tobytes() + values.tobytes())
    loaded = pth.tensors(pth.load(str(path)))
    assert list(loaded) == ["conv_w"]
    np.testing.assert_array_equal(loaded["conv_w"], values.reshape(2, 3))


# --- TSN Caffe ----------------------------------------------------------------

@pytest.mark.parametrize("modality,channels", [("rgb", 3), ("flow", 10)])
def test_tsn_caffe_model_dir_matches_pytorch_logits(tmp_path, modality, channels):
    model, images, torch_input = _bninception_reference(64, 5, channels, bgr_mean=CAFFE_BGR_MEAN)
    path = _tsn_caffe_file(tmp_path / f"tsn_{modality}.caffemodel", model)
    names = [f"class {i}" for i in range(5)]
    report = convert.write_model_dir(sources.read("tsn_caffe", path), str(tmp_path / "run"),
                                     names, input_size=64)
    assert report.modality == modality and report.unused == []
    config = RunConfig.load(str(tmp_path / "run"))
    assert config.backbone == "bn_inception" and config.num_classes == 5
    assert config.rgb_mean[::-1] == CAFFE_BGR_MEAN and config.rgb_std == (1.0, 1.0, 1.0)
    assert (config.flow_mean, config.flow_std) == (128.0, 1.0)
    assert read_label_map(str(tmp_path / "run")) == names
    recorded = Preprocessing.load(str(tmp_path / "run"))  # TSN's dense_flow: OpenCV 2.4 CUDA
    assert (recorded and recorded.flow_algorithm) == ("tvl1_tsn" if modality == "flow" else None)
    mean, std = config.normalization()
    tsn = restore_model(str(tmp_path / "run"), num_segments=1)
    logits = np.asarray(tsn(((images - np.array(mean, np.float32)) / np.array(std, np.float32))
                            [:, None], training=False))
    _, expected = ref.bninception_features(model, torch_input)
    print(modality, "caffe logits difference", _assert_close(logits, expected))


def test_caffemodel_legacy_num_channels_height_width_blobs():
    blob = caffemodel.MESSAGES["BlobProto"](num=2, channels=3, height=1, width=2)
    blob.data.extend(range(12))
    np.testing.assert_array_equal(caffemodel.blob_array(blob), np.arange(12).reshape(2, 3, 1, 2))


# Protobuf wire format written by hand from caffe.proto (not from caffemodel's
# declarations): NetParameter.layer = 100; LayerParameter name = 1, type = 2,
# blobs = 7, and a layer parameter the reader must skip (convolution_param =
# 106); BlobProto num/channels/height/width = 1-4, data = 5 (packed floats),
# shape = 7, double_data = 8 (packed doubles); BlobShape dim = 1 (packed int64).

def _varint(value):
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _field(number, payload):  # wire type 2: length-delimited
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number, value):  # wire type 0: varint
    return _varint(number << 3) + _varint(value)


def test_caffemodel_reads_bytes_written_from_caffe_proto(tmp_path):
    weights = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 8 - 1
    bias = np.array([0.5, -2.0], np.float32)
    shape = _field(1, b"".join(_varint(d) for d in weights.shape))
    conv = (_field(1, b"conv1") + _field(2, b"Convolution")
            + _field(106, _int_field(1, 2))                      # convolution_param, skipped
            + _field(7, _field(7, shape) + _field(5, weights.astype("<f4").tobytes()))
            + _field(7, _int_field(1, 1) + _int_field(2, 1) + _int_field(3, 1)
                     + _int_field(4, 2) + _field(8, bias.astype("<f8").tobytes())))
    relu = _field(1, b"relu1") + _field(2, b"ReLU")              # no blobs: not listed
    path = tmp_path / "net.caffemodel"
    path.write_bytes(_field(1, b"tsn") + _field(100, conv) + _field(100, relu))

    blobs, types = caffemodel.read_layers(str(path))
    assert types == {"conv1": "Convolution"}
    np.testing.assert_array_equal(blobs["conv1"][0], weights)
    # the legacy (1, 1, 1, 2) right-aligned against the Convolution bias (O,)
    np.testing.assert_array_equal(blobs["conv1"][1], bias)


# A .caffemodel written three ways from the same arrays, by hand from caffe.proto:
# "shape" (BlobShape, as Caffe writes today), "legacy" (num/channels/height/width
# only, as Caffe wrote before `shape`: 4-D, 1s on the left, so an InnerProduct
# weight (1, 1, out, in), a bias (1, 1, 1, out), a TSN BN blob (1, C, 1, 1)), and
# "both": the legacy four plus a `shape` that is deliberately wrong (its dims
# reversed, same count): Caffe's Blob::FromProto reads the legacy four first.
# InnerProduct layers record inner_product_param (117) { num_output (1) }.

def _legacy_dims(layer_type, array):
    if layer_type == "BN":
        return (1, array.size, 1, 1)
    return (1,) * (4 - array.ndim) + array.shape


def _blob_bytes(layer_type, array, form):
    array = np.asarray(array, np.float32)
    body = b""
    if form in ("legacy", "both"):
        body += b"".join(_int_field(number, size) for number, size
                         in zip((1, 2, 3, 4), _legacy_dims(layer_type, array)))
    if form in ("shape", "both"):
        dims = array.shape if form == "shape" else array.shape[::-1]
        body += _field(7, _field(1, b"".join(_varint(d) for d in dims)))
    return body + _field(5, array.astype("<f4").tobytes())


def _caffemodel_bytes(layers, form):
    out = _field(1, b"tsn")
    for name, layer_type, arrays in layers:
        layer = _field(1, name.encode()) + _field(2, layer_type.encode())
        if layer_type == "InnerProduct":
            layer += _field(117, _int_field(1, len(arrays[0])))
        layer += b"".join(_field(7, _blob_bytes(layer_type, a, form)) for a in arrays)
        out += _field(100, layer)
    return out


def test_caffemodel_legacy_sizes_read_as_their_layer_holds_them(tmp_path):
    conv_w = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    fc_w = np.arange(12, dtype=np.float32).reshape(3, 4)
    bn = [np.arange(5, dtype=np.float32).reshape(1, 5) + k for k in range(4)]
    layers = [("conv1", "Convolution", [conv_w, np.array([1.0, 2.0])]),
              ("bn1", "BN", bn),
              ("fc", "InnerProduct", [fc_w, np.array([1.0, 2.0, 3.0])])]
    for form in ("shape", "legacy", "both"):
        path = tmp_path / f"{form}.caffemodel"
        path.write_bytes(_caffemodel_bytes(layers, form))
        blobs, types = caffemodel.read_layers(str(path))
        assert types == {"conv1": "Convolution", "bn1": "BN", "fc": "InnerProduct"}
        np.testing.assert_array_equal(blobs["conv1"][0], conv_w)
        np.testing.assert_array_equal(blobs["conv1"][1], [1.0, 2.0])
        for k in range(4):
            np.testing.assert_array_equal(blobs["bn1"][k], np.arange(5) + k)  # (C,)
        np.testing.assert_array_equal(blobs["fc"][0], fc_w)                  # (out, in)
        np.testing.assert_array_equal(blobs["fc"][1], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("layer_type, dims, message", [
    ("InnerProduct", (2, 1, 3, 4), r"blob 0 is sized \(2, 1, 3, 4\); InnerProduct blob 0 "
                                   r"has 2 dimensions"),
    ("InnerProduct", (1, 1, 4, 6), r"blob 0 is sized \(1, 1, 4, 6\): 4 outputs, but the "
                                   r"layer's num_output is 3"),
    ("BN", (1, 2, 1, 12), r"blob 0 is sized \(1, 2, 1, 12\); a BN blob holds one value"),
    ("Convolution", (1, 1, 4, 6), r"holds 25 values but its num/channels/height/width is "
                                  r"\(1, 1, 4, 6\)"),
])
def test_caffemodel_misfit_legacy_size_is_one_line_naming_file_and_blob(
        tmp_path, layer_type, dims, message):
    count = int(np.prod(dims)) + (layer_type == "Convolution")  # one value too many
    blob = (b"".join(_int_field(n, d) for n, d in zip((1, 2, 3, 4), dims))
            + _field(5, np.zeros(count, "<f4").tobytes()))
    layer = _field(1, b"fc/x") + _field(2, layer_type.encode()) + _field(7, blob)
    if layer_type == "InnerProduct":
        layer += _field(117, _int_field(1, 3))
    path = tmp_path / "misfit.caffemodel"
    path.write_bytes(_field(100, layer))
    with pytest.raises(ValueError) as error:
        caffemodel.read_layers(str(path))
    text = str(error.value)
    assert "\n" not in text and text.startswith(f"{path}: layer 'fc/x' ({layer_type}) blob 0 ")
    assert re.search(message, text), text


def test_tsn_caffe_legacy_sized_blobs_convert_like_shape_sized(tmp_path):
    """Same weights sized by `shape`, by num/channels/height/width, and by both: one model."""
    model, images, torch_input = _bninception_reference(64, 5, bgr_mean=CAFFE_BGR_MEAN)
    layers = ref.caffe_layers(model)
    names = [f"class {i}" for i in range(5)]
    logits = {}
    for form in ("shape", "legacy", "both"):
        path = tmp_path / f"tsn_{form}.caffemodel"
        path.write_bytes(_caffemodel_bytes(layers, form))
        run = str(tmp_path / f"run_{form}")
        report = convert.write_model_dir(sources.read("tsn_caffe", str(path)), run, names,
                                         input_size=64)
        assert report.unused == [] and RunConfig.load(run).num_classes == 5
        mean, std = RunConfig.load(run).normalization()
        tsn = restore_model(run, num_segments=1)
        logits[form] = np.asarray(tsn(((images - np.array(mean, np.float32))
                                       / np.array(std, np.float32))[:, None], training=False))
    np.testing.assert_array_equal(logits["legacy"], logits["shape"])
    np.testing.assert_array_equal(logits["both"], logits["shape"])
    _, expected = ref.bninception_features(model, torch_input)
    print("caffe logits difference (shape, legacy, both)",
          _assert_close(logits["legacy"], expected))


@pytest.mark.slow
def test_cli_converts_legacy_sized_caffemodel_with_101_class_names(tmp_path):
    """The issue's case: a legacy-sized fc_action (1, 1, 101, 1024) is 101 classes."""
    model, images, torch_input = _bninception_reference(64, 101, bgr_mean=CAFFE_BGR_MEAN)
    path = tmp_path / "ucf101_legacy.caffemodel"
    path.write_bytes(_caffemodel_bytes(ref.caffe_layers(model, "fc-action"), "legacy"))
    names = [f"action_{i}" for i in range(101)]
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n")
    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tsn_tf.convert.convert_main", "--from=tsn_caffe",
         f"--checkpoint={path}", f"--model_dir={run}", f"--class_names={tmp_path / 'classes.txt'}",
         "--input_size=64"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"wrote {run}" in result.stdout
    assert RunConfig.load(str(run)).num_classes == 101 and read_label_map(str(run)) == names
    mean, std = RunConfig.load(str(run)).normalization()
    tsn = restore_model(str(run), num_segments=1)
    logits = np.asarray(tsn(((images - np.array(mean, np.float32))
                             / np.array(std, np.float32))[:, None], training=False))
    _, expected = ref.bninception_features(model, torch_input)
    print("cli legacy 101-class logits difference", _assert_close(logits, expected))


def test_caffemodel_garbage_is_refused(tmp_path):
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(b"\xff\xff\xff\xff not a protobuf")
    with pytest.raises(ValueError, match="not a .caffemodel"):
        caffemodel.read_layers(str(path))


# --- mmaction2 ----------------------------------------------------------------

class ExperimentMeta:
    """Stands for the arbitrary objects mmaction2 / mmengine put in `meta`."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _mmaction2_reference(tmp_path, channels=3, num_classes=7, size=64, layers=(3, 4, 6, 3)):
    images = _images(size, channels)
    if channels == 3:
        torch_input = ref.nchw((images - np.array(MMACTION2_MEAN, np.float32))
                               / np.array(MMACTION2_STD, np.float32))
    else:
        torch_input = ref.nchw((images - 128.0) / 128.0)
    torch.manual_seed(0)  # the conv / linear initial weights
    resnet = ref.randomize(ref.ResNet(layers, num_classes=num_classes, in_channels=channels),
                           torch_input, seed=1)
    path = str(tmp_path / "tsn_r50.pth")
    torch.save({"meta": {"config": "model = dict(...)", "epoch": 100, "env": ExperimentMeta()},
                "state_dict": ref.mmaction2_state(resnet)}, path)
    return resnet, images, torch_input, path


@pytest.mark.parametrize("channels, layers, backbone", [
    (3, (3, 4, 6, 3), "resnet50_pt"), (10, (3, 4, 6, 3), "resnet50_pt"),
    (3, (3, 4, 23, 3), "resnet101_pt")])
def test_mmaction2_model_dir_matches_pytorch_features_and_logits(tmp_path, channels, layers,
                                                                 backbone):
    resnet, images, torch_input, path = _mmaction2_reference(tmp_path, channels, layers=layers)
    names = [f"c{i}" for i in range(7)]
    report = convert.write_model_dir(sources.read("mmaction2", path), str(tmp_path / "run"),
                                     names, input_size=64)
    assert report.backbone == backbone and report.unused == []
    assert report.ignored == 1 + 3 * sum(layers) + 4  # one num_batches_tracked per BN
    assert report.skipped == ["meta (not read)"]
    config = RunConfig.load(str(tmp_path / "run"))
    assert (config.rgb_mean, config.rgb_std) == (MMACTION2_MEAN, MMACTION2_STD)
    assert (config.flow_mean, config.flow_std) == (128.0, 128.0)
    recorded = Preprocessing.load(str(tmp_path / "run"))  # mmaction2's denseflow: OpenCV 4 CUDA
    assert (recorded and recorded.flow_algorithm) == ("tvl1_denseflow" if channels == 10
                                                      else None)
    mean, std = config.normalization()
    tsn = restore_model(str(tmp_path / "run"), num_segments=1)
    normalized = (images - np.array(mean, np.float32)) / np.array(std, np.float32)
    features = tsn.get_layer("backbone").layer(normalized, training=False)
    logits = tsn(normalized[:, None], training=False)
    expected_features, expected_logits = ref.resnet_features(resnet, torch_input)
    print(backbone, channels, "mmaction2 feature difference",
          _assert_close(np.asarray(features), expected_features, relative=True),
          "logits", _assert_close(np.asarray(logits), expected_logits))


def test_mmaction2_classifier_count_must_match_class_names(tmp_path):
    _, _, _, path = _mmaction2_reference(tmp_path)
    with pytest.raises(convert.ConversionError, match="lists 3 classes; the classifier "
                                                      "cls_head.fc_cls has 7"):
        convert.write_model_dir(sources.read("mmaction2", path), str(tmp_path / "run"),
                                ["a", "b", "c"])
    assert not (tmp_path / "run").exists()


def test_missing_backbone_weight_writes_nothing(tmp_path):
    resnet, _, _, _ = _mmaction2_reference(tmp_path)
    state = ref.mmaction2_state(resnet)
    del state["backbone.layer2.1.conv2.bn.running_var"]
    path = str(tmp_path / "partial.pth")
    torch.save({"state_dict": state}, path)
    output = tmp_path / "partial.weights.h5"
    with pytest.raises(convert.ConversionError,
                       match=r"1 backbone weights have no source key .*"
                             r"backbone.layer2.1.conv2.bn.running_var"):
        convert.write_backbone(sources.read("mmaction2", path), str(output))
    assert not output.exists() and not (tmp_path / "partial.weights.h5.json").exists()


# --- the restricted unpickler -------------------------------------------------

class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("where", ["top", "state_dict"])
def test_pickle_calling_os_system_is_refused_and_never_runs(tmp_path, where):
    marker = tmp_path / "pwned"
    evil = _Evil(f"touch {marker}")
    payload = evil if where == "top" else {"state_dict": {"backbone.conv1.conv.weight": evil}}
    path = str(tmp_path / "evil.pth")
    torch.save(payload, path)
    with pytest.raises(pth.UnsafePickleError, match="refused to unpickle (posix|os).system"):
        sources.read("mmaction2", path)
    assert not marker.exists()


def test_restricted_loader_reads_what_torch_load_weights_only_reads(tmp_path):
    state = {"a": torch.arange(12, dtype=torch.float32).view(3, 4)[:, 1:3],
             "b": torch.tensor([1, 2], dtype=torch.int64), "h": torch.ones(2).half()}
    for zip_format in (True, False):
        path = str(tmp_path / f"s{zip_format}.pth")
        torch.save(state, path, _use_new_zipfile_serialization=zip_format)
        loaded = pth.tensors(pth.load(path))
        expected = torch.load(path, weights_only=True)
        for key in state:
            np.testing.assert_array_equal(loaded[key], expected[key].numpy())
            assert loaded[key].dtype == expected[key].numpy().dtype


def test_not_a_pth_file_is_refused(tmp_path):
    path = tmp_path / "x.pth"
    path.write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a torch.save file"):
        pth.load(str(path))


def test_truncated_or_corrupt_pth_is_a_value_error_naming_the_file(tmp_path):
    """What tsn-convert prints as one line, not an EOFError / UnpicklingError traceback."""
    state = {"w": torch.ones(4, 3)}
    torch.save(state, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    legacy = (tmp_path / "legacy.pth").read_bytes()
    torch.save(state, tmp_path / "zip.pth")
    stored = (tmp_path / "zip.pth").read_bytes()
    cases = {"legacy_half.pth": legacy[:len(legacy) // 2],          # EOF inside the pickle
             "legacy_no_count.pth": legacy[:len(legacy) - 52]}      # EOF at a storage's size
    one = np.float32(1).tobytes() * 12
    cases["zip_crc.pth"] = stored.replace(one, np.float32(2).tobytes() * 12)  # bad CRC-32
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match=f"{path}: truncated or corrupt .pth file"):
            pth.tensors(pth.load(str(path)))


# --- tsn-train --weights reads the sidecar -------------------------------------

def test_cli_writes_backbone_file_and_reports_unused_keys(tmp_path):
    model = ref.bninception(10)
    path = str(tmp_path / "bn.pth")
    torch.save(model.state_dict(), path)
    output = str(tmp_path / "bn.weights.h5")
    result = subprocess.run(
        [sys.executable, "-m", "tsn_tf.convert.convert_main", "--from=bn_inception_pth",
         f"--checkpoint={path}", f"--output={output}"], capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr
    assert "source keys not used (2): last_linear.bias, last_linear.weight" in result.stdout
    assert json.load(open(output + ".json"))["from"] == "bn_inception_pth"


def test_cli_error_is_one_line_naming_the_input(tmp_path):
    missing = str(tmp_path / "missing.pth")
    result = subprocess.run(
        [sys.executable, "-m", "tsn_tf.convert.convert_main", "--from=mmaction2",
         f"--checkpoint={missing}", f"--output={tmp_path / 'x.weights.h5'}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {missing}; No such file or directory"]


def test_cli_refuses_model_dir_flags_with_output(tmp_path):
    """--output writes backbone weights only: --class_names / --num_segments are not ignored."""
    result = subprocess.run(
        [sys.executable, "-m", "tsn_tf.convert.convert_main", "--from=mmaction2",
         f"--checkpoint={tmp_path / 'x.pth'}", f"--output={tmp_path / 'x.weights.h5'}",
         f"--class_names={tmp_path / 'classes.txt'}", "--num_segments=5"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --class_names, --num_segments: only for --model_dir; --output writes RGB "
        "backbone weights."]


@pytest.mark.slow
def test_tsn_train_takes_the_normalization_of_converted_weights(tmp_path):
    """tsn-train --weights=<converted file> records the sidecar's mean / std, not the spec's."""
    from conftest import write_tiny_shards
    model = ref.bninception(10)
    path = str(tmp_path / "bn.pth")
    torch.save(model.state_dict(), path)
    output = str(tmp_path / "bn.weights.h5")
    checkpoint = sources.read("bn_inception_pth", path)
    checkpoint.normalization = sources.TSN_CAFFE  # differs from spec("bn_inception")
    convert.write_backbone(checkpoint, output)
    shards = write_tiny_shards(tmp_path / "shards", num_shards=1)
    result = subprocess.run(
        [sys.executable, "-m", "tsn_tf.trainers.train", f"--train_shards={shards}",
         f"--model_dir={tmp_path / 'run'}", "--backbone=bn_inception", "--input_size=64",
         "--num_segments=1", "--batch_size=2", "--train_steps=1", f"--weights={output}",
         "--noprogress"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    config = RunConfig.load(str(tmp_path / "run"))
    assert config.rgb_mean[::-1] == CAFFE_BGR_MEAN != tuple(backbones.spec("bn_inception").rgb_mean)
    result = subprocess.run(
        [sys.executable, "-m", "tsn_tf.trainers.train", f"--train_shards={shards}",
         f"--model_dir={tmp_path / 'run2'}", "--backbone=resnet50_pt", f"--weights={output}"],
        capture_output=True, text=True, timeout=600)
    assert "holds bn_inception weights; --backbone is resnet50_pt" in result.stderr
