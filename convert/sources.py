"""The three checkpoint sources tsn-convert reads, as flat PyTorch-layout state dicts.

Every source becomes {key: array} with PyTorch's layouts (conv weight
(O, I, kh, kw), linear weight (classes, D), BN vectors) plus how our Keras
layer names map to its keys, its classifier key prefix and the input
normalization its weights were trained with (RGB order, 0..255 scale, as
RunConfig stores it; `weights_channel_order` says what the first conv sees:
BN-Inception reverses RGB to BGR inside the model).
"""
import dataclasses
import re
from typing import Callable

from tsn_tf.backbones.specs import SPECS
from tsn_tf.convert import caffemodel, pth

# PyTorch BN keys, in Caffe BN's blob order and Keras BatchNormalization's
# weight order alike (scale, shift, mean, variance).
BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")
IGNORED_SUFFIXES = (".num_batches_tracked",)  # BN's update counter: no information


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Input normalization of a source's weights (RGB order, 0..255 scale)."""
    rgb_mean: tuple
    rgb_std: tuple
    flow_mean: float
    flow_std: float
    weights_channel_order: str  # what the first conv of the RGB model sees


@dataclasses.dataclass
class Checkpoint:
    """A source checkpoint read into a flat state dict."""
    state: dict                 # key -> np.ndarray, PyTorch layouts
    key_of: Callable            # Keras layer name -> source key prefix
    classifier: tuple           # candidate classifier prefixes ("fc", ...)
    normalization: Normalization
    backbone: str
    first_conv: str             # key of the first conv's weight (its input channels)
    skipped: list = dataclasses.field(default_factory=list)  # parts not read, with why
    origin: dict = dataclasses.field(default_factory=dict)   # {"from", "checkpoint"}


def _spec_normalization(backbone, weights_channel_order):
    """The normalization the registered `backbone`'s spec already states."""
    spec = SPECS[backbone]
    return Normalization(spec.rgb_mean, spec.rgb_std, spec.flow_mean, spec.flow_std,
                         weights_channel_order)


# tsn-pytorch / pretrainedmodels: BGR 0..255 minus [104, 117, 128], std 1
# (spec("bn_inception") is this normalization).
BN_INCEPTION_PTH = _spec_normalization("bn_inception", "BGR")
# TSN Caffe models: BGR 0..255 minus [104, 117, 123]; flow minus 128.
TSN_CAFFE = Normalization((123.0, 117.0, 104.0), (1.0, 1.0, 1.0), 128.0, 1.0, "BGR")
# mmaction2 TSN configs: RGB mean / std; flow 128 / 128 (spec("resnet50_pt")).
MMACTION2 = _spec_normalization("resnet50_pt", "RGB")


def read_bn_inception_pth(path):
    """tsn-pytorch's or pretrainedmodels' BN-Inception ImageNet state dict."""
    state = pth.tensors(pth.load(path), str(path))
    return Checkpoint(state, _same_name, ("fc", "last_linear"), BN_INCEPTION_PTH, "bn_inception",
                      "conv1_7x7_s2.weight")


def read_tsn_caffe(path):
    """A TSN .caffemodel: Convolution / InnerProduct [W, b], BN [scale, shift, mean, var].

    Blobs sized by `shape` or by the legacy num/channels/height/width read
    alike (Caffe's precedence; `caffemodel.layer_arrays`): conv (O, I, kh, kw),
    InnerProduct (classes, D), biases and BN vectors (C,).
    """
    layers, types = caffemodel.read_layers(path)
    state = {}
    for name, blobs in layers.items():
        prefix = re.sub(r"[/-]", "_", name)
        suffixes = BN_SUFFIXES if types[name] == "BN" else ("weight", "bias")
        if len(blobs) > len(suffixes):
            suffixes = [f"blob{i}" for i in range(len(blobs))]  # reported unused
        state.update({f"{prefix}.{suffix}": blob for suffix, blob in zip(suffixes, blobs)})
    return Checkpoint(state, _same_name, ("fc_action",), TSN_CAFFE, "bn_inception",
                      "conv1_7x7_s2.weight")


def read_mmaction2(path):
    """An mmaction2 TSN ResNet checkpoint {"meta", "state_dict", ...}; only state_dict is read."""
    checkpoint = pth.load(path)
    if not isinstance(checkpoint, dict):
        pth.tensors(checkpoint, path)  # raises: a refused global, or not a dict
    if "state_dict" not in checkpoint:
        raise ValueError(f"{path}: an mmaction2 checkpoint is a dict with 'state_dict'; "
                         f"found keys {list(checkpoint)[:10]}")
    state = pth.tensors(checkpoint["state_dict"], f"{path}: state_dict")
    skipped = [f"{key} (not read)" for key in checkpoint if key != "state_dict"]
    return Checkpoint(state, _mmaction2_key, ("cls_head.fc_cls",), MMACTION2,
                      _resnet_depth(state, path), "backbone.conv1.conv.weight", skipped)


SOURCES = {
    "bn_inception_pth": read_bn_inception_pth,
    "tsn_caffe": read_tsn_caffe,
    "mmaction2": read_mmaction2,
}
# The TV-L1 variant each family's flow models were trained on (ingestion's --flow
# name): TSN's dense_flow (OpenCV 2.4 CUDA), mmaction2's denseflow (OpenCV 4 CUDA).
FLOW_ALGORITHMS = {"tsn_caffe": "tvl1_tsn", "mmaction2": "tvl1_denseflow"}


def read(source, path):
    """The `Checkpoint` of file `path` (any TF filesystem path) from `source` (a SOURCES key)."""
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}. Known: {', '.join(SOURCES)}")
    checkpoint = SOURCES[source](path)
    checkpoint.origin = {"from": source, "checkpoint": str(path)}
    return checkpoint


def _same_name(layer_name):
    return layer_name


def _mmaction2_key(layer_name):
    """resnet_pt layer name -> mmaction2 key prefix (ConvModule: .conv / .bn)."""
    if layer_name in ("conv1", "bn1"):
        return f"backbone.conv1.{layer_name[:-1]}"
    match = re.fullmatch(r"layer(\d)_(\d+)_(conv|bn)(\d)", layer_name)
    if match:
        stage, block, kind, index = match.groups()
        return f"backbone.layer{stage}.{block}.conv{index}.{kind}"
    match = re.fullmatch(r"layer(\d)_(\d+)_downsample_([01])", layer_name)
    if match:
        stage, block, index = match.groups()
        return f"backbone.layer{stage}.{block}.downsample.{('conv', 'bn')[int(index)]}"
    return f"backbone.{layer_name}"


def _resnet_depth(state, path):
    """resnet{50,101,152}_pt from the number of stage-3 blocks in the keys."""
    blocks = {int(m.group(1)) for key in state
              if (m := re.match(r"backbone\.layer3\.(\d+)\.", key))}
    names = {6: "resnet50_pt", 23: "resnet101_pt", 36: "resnet152_pt"}
    if len(blocks) not in names:
        raise ValueError(f"{path}: {len(blocks)} blocks in backbone.layer3; expected a "
                         "ResNet-50 (6), -101 (23) or -152 (36)")
    return names[len(blocks)]
