"""Reading Caffe `.caffemodel` files with the protobuf library TF installs.

The few messages needed are declared here from caffe.proto's field numbers
(descriptor_pb2), so no caffe and no generated `caffe_pb2` is needed:

    NetParameter   { name = 1; repeated LayerParameter layer = 100; }
    LayerParameter { name = 1; type = 2; repeated BlobProto blobs = 7; }
    BlobProto      { num = 1; channels = 2; height = 3; width = 4;
                     repeated float data = 5 [packed]; BlobShape shape = 7;
                     repeated double double_data = 8 [packed]; }
    BlobShape      { repeated int64 dim = 1 [packed]; }

Every other field (layer parameters, V1 `layers` = 2, diffs) is skipped as
unknown by the parser. `write_net` serializes with the same messages, for
tests and synthetic files.
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


def blob_array(blob) -> np.ndarray:
    """A BlobProto's values, shaped by `shape` or the legacy num/channels/height/width."""
    values = np.asarray(blob.double_data if len(blob.double_data) else blob.data, np.float32)
    if blob.HasField("shape"):
        shape = tuple(blob.shape.dim)
    else:
        shape = (blob.num, blob.channels, blob.height, blob.width)
    if int(np.prod(shape)) != values.size:
        raise ValueError(f"blob holds {values.size} values but its shape is {shape}")
    return values.reshape(shape)


def read_layers(path):
    """{layer name: [blob arrays]} of the layers with blobs in `path`, and {name: type}.

    Raises:
      ValueError: the file does not parse as a NetParameter, or has two
        layers of one name with blobs.
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
        blobs[layer.name] = [blob_array(blob) for blob in layer.blobs]
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
