"""Time tsn-convert on full-size checkpoints with random weights (torch makes the files).

    .venv/bin/python benchmarks/convert_time.py

Rows: BN-Inception .pth (zip and legacy) -> backbone .weights.h5; the same
arrays as a TSN .caffemodel -> model directory (101 classes); an mmaction2
ResNet-50 checkpoint (400 classes) -> model directory. Seconds for reading
the source and for building, filling and writing the output, in this
process (TensorFlow already imported); best of REPEATS (2).
"""
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import torch  # noqa: E402

import torch_reference as ref  # noqa: E402
from tsn_tf.convert import caffemodel, convert, sources  # noqa: E402

REPEATS = 2


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def _row(name, source, path, write):
    best_read = best_write = float("inf")
    for attempt in range(REPEATS):
        checkpoint, read_seconds = _timed(lambda: sources.read(source, path))
        _, write_seconds = _timed(lambda: write(checkpoint, attempt))
        best_read, best_write = min(best_read, read_seconds), min(best_write, write_seconds)
    size = os.path.getsize(path) / 2**20
    print(f"{name:<42} {size:7.1f} MB  read {best_read:6.2f} s  build+fill+write "
          f"{best_write:6.2f} s  total {best_read + best_write:6.2f} s")


def main():
    folder = pathlib.Path(tempfile.mkdtemp(prefix="convert_time_"))
    bninception = ref.bninception(101)
    zip_path, legacy_path = folder / "bn_zip.pth", folder / "bn_legacy.pth"
    torch.save(bninception.state_dict(), zip_path)
    torch.save(bninception.state_dict(), legacy_path, _use_new_zipfile_serialization=False)
    caffe_path = folder / "tsn_rgb.caffemodel"
    caffemodel.write_net(str(caffe_path), ref.caffe_layers(bninception))
    resnet = ref.ResNet(num_classes=400)
    mmaction2_path = folder / "tsn_r50.pth"
    torch.save({"meta": {}, "state_dict": ref.mmaction2_state(resnet)}, mmaction2_path)
    names_101, names_400 = [f"c{i}" for i in range(101)], [f"c{i}" for i in range(400)]

    def backbone_file(checkpoint, attempt):
        convert.write_backbone(checkpoint, str(folder / f"bn{attempt}-{time.time()}.weights.h5"))

    def model_dir(names):
        return lambda checkpoint, attempt: convert.write_model_dir(
            checkpoint, str(folder / f"run{attempt}-{time.time()}"), names)

    _row("BN-Inception .pth zip -> .weights.h5", "bn_inception_pth", zip_path, backbone_file)
    _row("BN-Inception .pth legacy -> .weights.h5", "bn_inception_pth", legacy_path,
         backbone_file)
    _row("BN-Inception .caffemodel -> model dir", "tsn_caffe", caffe_path, model_dir(names_101))
    _row("ResNet-50 mmaction2 .pth -> model dir", "mmaction2", mmaction2_path,
         model_dir(names_400))


if __name__ == "__main__":
    main()
