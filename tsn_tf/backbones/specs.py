"""BackboneSpec: what the input pipeline must know about a backbone.

Normalization is stated for the values our pipeline feeds, in the 0..255
scale and in RGB channel order for every backbone:
`x_normalized = (x - mean) / std`. Backbones whose weights expect BGR
(Caffe-style ResNet, BN-Inception) reverse the channels inside the model
(`ReverseChannels`), so their RGB-order means below are the reference BGR
means reversed.

Flow: `flow_mean` is 128 for every backbone (quantized flow is centred at
128) and `flow_std` is the backbone's RGB std, so flow reaches the first
conv with the same range as the RGB images its weights were trained on;
except the "*_pt" ResNets, whose flow_std is mmaction2's 128.
"""
import dataclasses

from tsn_tf.backbones.resnet_pt import DEPTHS as RESNET_PT_DEPTHS


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """Static facts of one registered backbone.

    Attributes:
      name: registry name.
      input_size: crop side the reference trains and tests at.
      min_input_size: smallest height/width the model can be built with.
      rgb_mean: per-channel mean, RGB order, 0..255 scale.
      rgb_std: per-channel std, RGB order, 0..255 scale.
      flow_mean: mean of every quantized flow channel (0..255 scale).
      flow_std: std of every quantized flow channel (0..255 scale).
      feature_dim: length D of the pooled feature vector.
    """

    name: str
    input_size: int
    min_input_size: int
    rgb_mean: tuple[float, float, float]
    rgb_std: tuple[float, float, float]
    flow_mean: float
    flow_std: float
    feature_dim: int


# keras.applications ResNet "caffe" mode: BGR mean [103.939, 116.779, 123.68],
# no scaling; here in RGB order.
_CAFFE_RESNET_MEAN = (123.68, 116.779, 103.939)


def _resnet_spec(name: str) -> BackboneSpec:
    return BackboneSpec(
        name=name, input_size=224, min_input_size=32,
        rgb_mean=_CAFFE_RESNET_MEAN, rgb_std=(1.0, 1.0, 1.0),
        flow_mean=128.0, flow_std=1.0, feature_dim=2048)


# torchvision / mmaction2 ImageNet normalization (RGB, 0..255 scale); their
# flow streams use mean 128 and std 128.
def _resnet_pt_spec(name: str) -> BackboneSpec:
    return BackboneSpec(
        name=name, input_size=224, min_input_size=32,
        rgb_mean=(123.675, 116.28, 103.53), rgb_std=(58.395, 57.12, 57.375),
        flow_mean=128.0, flow_std=128.0, feature_dim=2048)


SPECS = {
    # tsn-pytorch: input_mean [104, 117, 128] on BGR 0..255 (Stack(roll=True),
    # no division), input_std [1]; flow input_mean [128], std [1].
    "bn_inception": BackboneSpec(
        name="bn_inception", input_size=224, min_input_size=32,
        rgb_mean=(128.0, 117.0, 104.0), rgb_std=(1.0, 1.0, 1.0),
        flow_mean=128.0, flow_std=1.0, feature_dim=1024),
    # keras.applications InceptionV3 "tf" mode: x / 127.5 - 1.
    "inception_v3": BackboneSpec(
        name="inception_v3", input_size=299, min_input_size=75,
        rgb_mean=(127.5, 127.5, 127.5), rgb_std=(127.5, 127.5, 127.5),
        flow_mean=128.0, flow_std=127.5, feature_dim=2048),
    "resnet50": _resnet_spec("resnet50"),
    "resnet101": _resnet_spec("resnet101"),
    "resnet152": _resnet_spec("resnet152"),
    **{name: _resnet_pt_spec(name) for name in RESNET_PT_DEPTHS},
    # keras.applications VGG16 "caffe" mode, as its ResNets (BGR inside the
    # model); features: fc7, 4096.
    "vgg16": BackboneSpec(
        name="vgg16", input_size=224, min_input_size=32,
        rgb_mean=_CAFFE_RESNET_MEAN, rgb_std=(1.0, 1.0, 1.0),
        flow_mean=128.0, flow_std=1.0, feature_dim=4096),
    # Test backbone: inputs scaled to about [-1, 1].
    "tiny": BackboneSpec(
        name="tiny", input_size=32, min_input_size=32,
        rgb_mean=(127.5, 127.5, 127.5), rgb_std=(127.5, 127.5, 127.5),
        flow_mean=128.0, flow_std=127.5, feature_dim=32),
    # Demo backbone, trained from scratch: same input scaling as tiny.
    "small": BackboneSpec(
        name="small", input_size=64, min_input_size=32,
        rgb_mean=(127.5, 127.5, 127.5), rgb_std=(127.5, 127.5, 127.5),
        flow_mean=128.0, flow_std=127.5, feature_dim=128),
    # Audio backbone: its inputs are log-mel patches the audio pipeline
    # normalizes itself (input/contract/log_mel.py LOG_MEL_MEAN/STD), so the image
    # entries are identities; input_size is the patch length in frames.
    "audio_small": BackboneSpec(
        name="audio_small", input_size=96, min_input_size=16,
        rgb_mean=(0.0, 0.0, 0.0), rgb_std=(1.0, 1.0, 1.0),
        flow_mean=0.0, flow_std=1.0, feature_dim=128),
}
