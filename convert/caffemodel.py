"""Reading Caffe `.caffemodel` files with the protobuf library TF installs.

The few messages needed are declared here from caffe.proto's field numbers
(descriptor_pb2), so no caffe and no generated `caffe_pb2` is needed:

    NetParameter   { name = 1; repeated LayerParameter layer = 100; }
    LayerParameter { name = 1; type = 2; repeated BlobProto blobs = 7;
                     InnerProductParameter inner_product_param = 117; }
    InnerProductParameter { uint32 num_output = 1; }
    BlobProto      { num = 1; channels = 2; height = 3; width = 4;
                     repeated float data = 5 [packed]; BlobShape shape = 7;
                     repeated double double_data = 8 [packed]; }
    BlobShape      { repeated int64 dim = 1 [packed]; }

Every other field (other layer parameters, V1 `layers` = 2, diffs) is
skipped as unknown by the parser. `write_net` serializes with the same
messages, for tests and synthetic files.

Blob sizes follow Caffe (BVLC/caffe and the TSN fork yjxiong/caffe alike,
src/caffe/blob.cpp): `Blob::FromProto` takes the legacy 4-D (num, channels,
height, width) when any of the four is set, and only otherwise `shape`; values
come from `double_data` when it has any, else from `data`. A legacy 4-D size
is right-aligned against the blob the layer holds, as `Blob::ShapeEquals`
does when `Net::CopyTrainedLayersFrom` loads weights: an InnerProduct weight
(num_output, K) was written (1, 1, num_output, K), a bias (N,) as
(1, 1, 1, N). `layer_arrays` brings each blob of the layer types tsn_caffe
reads to the shape that layer holds it in, whichever way the file sized it.
"""
import numpy as np
import tensorflow as tf
from google.protobuf import descriptor_pb2, descriptor_pool

_FIELD = descriptor_pb2.FieldDescriptorProto
_MESSAGES = {
    "BlobShape": [("dim", 1, _FIELD.TYPE_INT64, _FIELD.LABEL_REPEATED, None)],
    "BlobProto": [
        ("num", 1, _FIELD.TYPE_INT32, _FIELD.LABEL_OPTIONAL, None),
        ("channels", 2, _FIELD.TYPE_INT32, _FIELD.LABEL_OPTIONAL, None),
        ("height", 3, _FIELD.TYPE_INT32, _FIELD.LABEL_OPTIONAL, None),
        ("width", 4, _FIELD.TYPE_INT32, _FIELD.LABEL_OPTIONAL, None),
        ("data", 5, _FIELD.TYPE_FLOAT, _FIELD.LABEL_REPEATED, None),
        ("shape", 7, _FIELD.TYPE_MESSAGE, _FIELD.LABEL_OPTIONAL, "BlobShape"),
        ("double_data", 8, _FIELD.TYPE_DOUBLE, _FIELD.LABEL_REPEATED, None),
    ],
    "LayerParameter": [
        ("name", 1, _FIELD.TYPE_STRING, _FIELD.LABEL_OPTIONAL, None),
        ("type", 2, _FIELD.TYPE_STRING, _FIELD.LABEL_OPTIONAL, None),
        ("blobs", 7, _FIELD.TYPE_MESSAGE, _FIELD.LABEL_REPEATED, "BlobProto"),
        ("inner_product_param", 117, _FIELD.TYPE_MESSAGE, _FIELD.LABEL_OPTIONAL,
         "InnerProductParameter"),
    ],
    "InnerProductParameter": [
        ("num_output", 1, _FIELD.TYPE_UINT32, _FIELD.LABEL_OPTIONAL, None),
    ],
    "NetParameter": [
        ("name", 1, _FIELD.TYPE_STRING, _FIELD.LABEL_OPTIONAL, None),
        ("layer", 100, _FIELD.TYPE_MESSAGE, _FIELD.LABEL_REPEATED, "LayerParameter"),
    ],
}
_PACKAGE = "tsn_tf_caffe"


def _message_classes():
    """{name: message class} of the declarations above, in a private pool."""
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="tsn_tf_caffe.proto", package=_PACKAGE, syntax="proto2")
    for message_name, fields in _MESSAGES.items():
        message = file_proto.message_type.add(name=message_name)
        for name, number, field_type, label, type_name in fields:
            field = message.field.add(name=name, number=number, type=field_type, label=label)
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
            if label == _FIELD.LABEL_REPEATED and field_type != _FIELD.TYPE_MESSAGE:
                field.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    try:
        from google.protobuf.message_factory import GetMessageClass
    except ImportError:  # protobuf < 4.22
        from google.protobuf.message_factory import MessageFactory
        GetMessageClass = MessageFactory(pool).GetPrototype
    return {name: GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
            for name in _MESSAGES}


MESSAGES = _message_classes()


LEGACY_FIELDS = ("num", "channels", "height", "width")
# Ranks of the blobs the layer types tsn_caffe reads hold, by blob index, as
# their LayerSetUp creates them: Convolution weight (O, I / group, kh, kw) and
# bias (O,), InnerProduct weight (num_output, K) and bias (num_output,).
BLOB_RANKS = {"Convolution": (4, 1), "InnerProduct": (2, 1)}
# yjxiong/caffe's BNLayer: scale, shift, mean, variance, each one value per
# channel, held (1, C); the old 4-D writer wrote such blobs (1, C, 1, 1).
PER_CHANNEL_TYPES = ("BN",)


def blob_array(blob, where="blob") -> np.ndarray:
    """A BlobProto's values in the shape Caffe's `Blob::FromProto` gives them.

    The legacy (num, channels, height, width) when any of the four is set
    (unset ones are 0, as in caffe.proto), otherwise `shape`; `double_data`
    when it has values, otherwise `data`.
    """
    values = np.asarray(blob.double_data if len(blob.double_data) else blob.data, np.float32)
    if any(blob.HasField(name) for name in LEGACY_FIELDS):
        shape = tuple(getattr(blob, name) for name in LEGACY_FIELDS)
        sized_by = "num/channels/height/width"
    else:
        shape = tuple(blob.shape.dim)
        sized_by = "shape"
    if int(np.prod(shape)) != values.size:
        raise ValueError(f"{where} holds {values.size} values but its {sized_by} is {shape}")
    return values.reshape(shape)


def layer_arrays(layer, where="layer"):
    """`layer`'s blobs in the shapes its Caffe layer type holds them.

    Convolution / InnerProduct: the size is right-aligned against the blob's
    rank (BLOB_RANKS) and the dimensions before it must be 1, as
    `Blob::ShapeEquals` requires of a legacy size: (1, 1, 101, 1024) is an
    InnerProduct weight (101, 1024), (1, 1, 1, 101) its bias (101,). A weight's
    rows must be the layer's `num_output` when the file records it. BN: each
    blob is per channel, (C,), from (1, C), (1, C, 1, 1), (1, 1, 1, C) or (C,).
    Other types keep `blob_array`'s shapes.

    Raises:
      ValueError: one line naming `where`, the blob and its size.
    """
    arrays = [blob_array(blob, f"{where} blob {i}") for i, blob in enumerate(layer.blobs)]
    if layer.type in PER_CHANNEL_TYPES:
        for i, array in enumerate(arrays):
            if sum(size != 1 for size in array.shape) > 1:
                raise ValueError(f"{where} blob {i} is sized {array.shape}; a {layer.type} "
                                 "blob holds one value per channel (C,) or (1, C, 1, 1)")
        return [array.reshape(-1) for array in arrays]
    ranks = BLOB_RANKS.get(layer.type)
    if ranks is None:
        return arrays
    shaped = []
    for i, (array, rank) in enumerate(zip(arrays, ranks)):
        extra = array.shape[:max(array.ndim - rank, 0)]
        if array.ndim < rank or any(size != 1 for size in extra):
            raise ValueError(f"{where} blob {i} is sized {array.shape}; {layer.type} blob {i} "
                             f"has {rank} dimension{'s' * (rank > 1)} (leading 1s aside)")
        shaped.append(array.reshape(array.shape[array.ndim - rank:]))
    param = layer.inner_product_param
    if (layer.type == "InnerProduct" and param.HasField("num_output")
            and shaped[0].shape[0] != param.num_output):
        raise ValueError(f"{where} blob 0 is sized {arrays[0].shape}: {shaped[0].shape[0]} "
                         f"outputs, but the layer's num_output is {param.num_output}")
    return shaped + arrays[len(shaped):]


def read_layers(path):
    """{layer name: [blob arrays]} of the layers with blobs in `path`, and {name: type}.

    Blobs are shaped by `layer_arrays`.

    Raises:
      ValueError: the file does not parse as a NetParameter, has two layers
        of one name with blobs, or a blob's size does not fit its values or
        its layer type.
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    net = MESSAGES["NetParameter"]()
    try:
        net.ParseFromString(data)
    except Exception as error:  # google.protobuf.message.DecodeError
        raise ValueError(f"{path}: not a .caffemodel (NetParameter): {error}") from error
    blobs, types = {}, {}
    for layer in net.layer:
        if not layer.blobs:
            continue
        if layer.name in blobs:
            raise ValueError(f"{path}: two layers named {layer.name!r} hold blobs")
        blobs[layer.name] = layer_arrays(layer, f"{path}: layer {layer.name!r} ({layer.type})")
        types[layer.name] = layer.type
    if not blobs and data:
        raise ValueError(f"{path}: no layer with blobs (an old V1 `layers` file? "
                         "upgrade it with Caffe's upgrade_net_proto_binary)")
    return blobs, types


def write_net(path, layers, name="net"):
    """Writes [(layer name, type, [arrays])] as a .caffemodel (new-style `shape`)."""
    net = MESSAGES["NetParameter"](name=name)
    for layer_name, layer_type, arrays in layers:
        layer = net.layer.add(name=layer_name, type=layer_type)
        for array in arrays:
            blob = layer.blobs.add()
            blob.shape.dim.extend(np.shape(array))
            blob.data.extend(np.asarray(array, np.float32).reshape(-1).tolist())
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(net.SerializeToString())
