"""tsn-convert: pretrained BN-Inception / TSN / mmaction2 weights into tsn-tf.

    tsn-convert --from=bn_inception_pth --checkpoint=bn_inception-52deb4733.pth \\
        --output=weights/bn_inception.weights.h5          # for tsn-train --weights=
    tsn-convert --from=tsn_caffe --checkpoint=ucf101_split1_tsn_rgb_bn_inception.caffemodel \\
        --class_names=ucf101_classes.txt --model_dir=runs/tsn_caffe_rgb
    tsn-convert --from=mmaction2 --checkpoint=tsn_r50_1x1x3_100e_kinetics400_rgb.pth \\
        --class_names=kinetics400_classes.txt --model_dir=runs/mmaction2_rgb

Needs neither torch nor caffe. Prints the source keys it did not use; writes
nothing unless every backbone weight (and for --model_dir the classifier) is
filled.
"""
from tsn_tf.trainers import cli  # first: quiets TensorFlow before it loads
from absl import app, flags

from tsn_tf.convert import convert, sources
from tsn_tf.modalities import MODALITIES
from tsn_tf.trainers.model_dir import read_class_names

flags.DEFINE_enum("from", None, list(sources.SOURCES), "Checkpoint source: bn_inception_pth "
                  "(tsn-pytorch / pretrainedmodels ImageNet .pth), tsn_caffe (the TSN "
                  "paper's .caffemodel) or mmaction2 (TSN ResNet .pth).")
flags.DEFINE_string("checkpoint", None, "The source file (any TF filesystem path).")
flags.DEFINE_string("output", None, "Write the RGB backbone as this .weights.h5 (plus its "
                    "normalization sidecar <output>.json) for tsn-train --weights=.")
flags.DEFINE_string("model_dir", None, "Write a complete model directory (backbone + "
                    "classifier) for tsn-eval / tsn-export / tsn-predict.")
flags.DEFINE_string("class_names", None, "--model_dir: class names, one per line, as many "
                    "as the classifier has outputs.")
flags.DEFINE_enum("modality", None, sorted(MODALITIES), "Stream of the checkpoint (default: "
                  "rgb for a 3-channel first conv, else flow).")
flags.DEFINE_integer("num_segments", 3, "--model_dir: K segments of the training model "
                     "(tsn-eval and tsn-export take their own).")
flags.DEFINE_integer("input_size", None, "--model_dir: model input side (default: the "
                     "backbone's, 224).")
flags.DEFINE_string("backbone", None, "Backbone to build (default: the source's: "
                    "bn_inception, or resnet{50,101,152}_pt from the mmaction2 keys).")
FLAGS = flags.FLAGS
MODEL_DIR_FLAGS = ("class_names", "modality", "num_segments", "input_size")


def main(argv):
    del argv
    if not FLAGS["from"].value or not FLAGS.checkpoint:
        raise app.UsageError("--from and --checkpoint are required.")
    if bool(FLAGS.output) == bool(FLAGS.model_dir):
        raise app.UsageError("Pass exactly one of --output (backbone weights) and --model_dir.")
    if FLAGS.model_dir and not FLAGS.class_names:
        raise app.UsageError("--model_dir needs --class_names (one class per line).")
    ignored = [f"--{name}" for name in MODEL_DIR_FLAGS if FLAGS[name].present]
    if FLAGS.output and ignored:
        raise app.UsageError(f"{', '.join(ignored)}: only for --model_dir; --output writes "
                             "RGB backbone weights.")
    # A bad file, refused pickle or misfit raises ValueError / OSError / tf.errors:
    # cli.run prints it as one line.
    checkpoint = sources.read(FLAGS["from"].value, FLAGS.checkpoint)
    if FLAGS.output:
        report = convert.write_backbone(checkpoint, FLAGS.output, backbone=FLAGS.backbone)
    else:
        report = convert.write_model_dir(
            checkpoint, FLAGS.model_dir, read_class_names(FLAGS.class_names),
            modality=FLAGS.modality, num_segments=FLAGS.num_segments,
            input_size=FLAGS.input_size, backbone=FLAGS.backbone)
    for line in report.lines():
        print(line)
    print(f"wrote {FLAGS.output or FLAGS.model_dir}")


def run():
    cli.run(main)


if __name__ == "__main__":
    run()
