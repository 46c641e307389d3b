"""The TSN model: Input (B, K, H, W, C·L) -> backbone per segment -> consensus.

    Input((K, H, W, C·L)) -> TimeDistributed(backbone) -> Dropout
      -> TimeDistributed(Dense) -> SegmentConsensus -> pre-softmax scores (B, classes)

`TimeDistributed` is tsn_tf's folding version: the backbone runs once on B·K
images. `with_num_segments` re-wires the same layer objects for another K
(25 for evaluation), so both models share every weight.
"""
import keras

from tsn_tf import backbones
from tsn_tf.consensus import SegmentConsensus
from tsn_tf.cross_modality import cross_modality_init, source_backbone
from tsn_tf.modalities import get_modality
from tsn_tf.partial_bn import apply_partial_bn
from tsn_tf.time_distributed import TimeDistributed

BACKBONE = "backbone"
DROPOUT = "dropout"
CLASSIFIER = "classifier"
CONSENSUS = "consensus"


def build_tsn(num_classes, *, backbone="bn_inception", modality="rgb", num_segments=3,
              consensus="avg", topk=3, dropout=None, input_size=None, weights=None,
              cross_modality_from=None, partial_bn=True, num_replicas=1, name=None):
    """Builds a TSN Keras model returning pre-softmax class scores (B, num_classes).

    Args:
        num_classes: number of action classes.
        backbone: a registry name (`tsn_tf.backbones.names()`) or a Keras model
            mapping (B, H, W, C·L) images to pooled features (B, D).
        modality: ``rgb``, ``flow``, ``warped_flow``, ``rgb_diff`` or ``audio``
            (input (B, K, 96, 64, 1) log-mel patches; `input_size` unused).
        num_segments: K, fixed in the input shape.
        consensus: ``avg``, ``max``, ``topk``, ``weighted`` or ``attention``.
        topk: k of the ``topk`` consensus.
        dropout: rate before the classifier; defaults to the modality's (0.8 RGB, 0.7 flow).
        input_size: H = W; defaults to the backbone's.
        weights: backbone weights: None, "imagenet" or a local file path of
            RGB weights; for other modalities they go through cross-modality init.
        cross_modality_from: an RGB Keras model (TSN model or backbone) whose
            weights initialize this model's backbone by cross-modality init.
        partial_bn: freeze every BN but the first.
        num_replicas: replicas of the strategy; >1 synchronizes the first BN.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1. Received: num_classes={num_classes}")
    if num_segments < 1:
        raise ValueError(f"num_segments (K) must be >= 1. Received: num_segments={num_segments}")
    spec = get_modality(modality)
    named = isinstance(backbone, str)
    size = input_size or (backbones.spec(backbone).input_size if named
                          else backbone.input_shape[1])
    image_shape = (*(spec.item_shape or (size, size)), spec.channels)
    if named:
        backbone = _pretrained_backbone(backbone, image_shape, weights)
    if cross_modality_from is not None:
        cross_modality_init(source_backbone(cross_modality_from), backbone)
    if partial_bn:
        apply_partial_bn(backbone, num_replicas)
    rate = spec.dropout if dropout is None else dropout
    layers = {
        BACKBONE: TimeDistributed(backbone, name=BACKBONE),
        DROPOUT: keras.layers.Dropout(rate, name=DROPOUT),
        CLASSIFIER: TimeDistributed(keras.layers.Dense(
            num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            bias_initializer="zeros"), name=CLASSIFIER),
        CONSENSUS: SegmentConsensus(consensus, k=topk, num_segments=num_segments, name=CONSENSUS),
    }
    return _assemble(layers, num_segments, image_shape, name or f"tsn_{modality}_{backbone.name}")


def _pretrained_backbone(name, input_shape, weights):
    """A registry backbone; non-RGB inputs get RGB `weights` by cross-modality init."""
    if weights is None or input_shape[-1] == 3:
        return backbones.get_backbone(name, input_shape=input_shape, weights=weights)
    rgb = backbones.get_backbone(name, input_shape=(*input_shape[:2], 3), weights=weights)
    return cross_modality_init(rgb, backbones.get_backbone(name, input_shape=input_shape))


def with_num_segments(model, num_segments, name=None):
    """A model over `num_segments` segments sharing every layer (and weight) of `model`."""
    layers = {key: model.get_layer(key) for key in (BACKBONE, DROPOUT, CLASSIFIER, CONSENSUS)}
    image_shape = model.input_shape[2:]
    return _assemble(layers, num_segments, image_shape, name or f"{model.name}_k{num_segments}")


def snippet_model(model, features: bool = False):
    """Per-snippet outputs for any number T of snippets, sharing `model`'s weights.

    Input (B, T, H, W, C·L); output the pre-softmax scores (B, T, classes) of each
    snippet (no consensus), or with `features` the dict ``{"features": (B, T, D)
    the backbone's pooled output, "scores": (B, T, classes)}``.
    """
    clips = keras.Input((None, *model.input_shape[2:]), name="snippets")
    pooled = model.get_layer(BACKBONE)(clips)
    scores = model.get_layer(CLASSIFIER)(model.get_layer(DROPOUT)(pooled))
    outputs = {"features": pooled, "scores": scores} if features else scores
    return keras.Model(clips, outputs, name=f"{model.name}_snippets")


def _assemble(layers, num_segments, image_shape, name):
    clips = keras.Input((num_segments, *image_shape), name="clips")
    features = layers[BACKBONE](clips)
    scores = layers[CLASSIFIER](layers[DROPOUT](features))
    consensus = layers[CONSENSUS]
    video_scores = consensus([scores, features] if consensus.mode == "attention" else scores)
    return keras.Model(clips, video_scores, name=name)
