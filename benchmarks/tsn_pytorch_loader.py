"""Training clips/s of tsn-pytorch's own loader, on frames written as JPEG files.

pipeline_throughput.py writes its shards' JPEG bytes in tsn-pytorch's layout
(`write_frames`) and runs this script in a child process that never imports
TensorFlow (the DataLoader workers fork). It imports `dataset.TSNDataSet`
and `transforms` from a checkout of github.com/yjxiong/tsn-pytorch (nothing
of it is copied here) and builds `train_loader` as its main.py does for
BNInception: `TSN.get_augmentation` (GroupMultiScaleCrop(224, scales) +
GroupRandomHorizontalFlip(is_flow)), Stack(roll=True),
ToTorchFormatTensor(div=False), GroupNormalize(input_mean, input_std), with
models.py's BNInception values (RGB: scales [1, .875, .75, .66], mean
[104, 117, 128]; Flow: scales [1, .875, .75], mean [128]; std [1]; Flow reads
new_length 5 frames of "flow_{}_{:05d}.jpg", i.e. `--flow_pref flow_`).
models.py is not imported: `get_augmentation` is a method of its TSN
network, whose construction builds BN-Inception from the tf_model_zoo git
submodule; the augmentation is rebuilt here from transforms' classes with
the arguments models.py gives them.

DataLoader: batch 32, 2 workers (--workers), pin_memory off (main.py pins
memory for its GPU copies; there is no GPU here), drop_last (so every batch
counted holds 32 clips; main.py keeps an epoch's last partial one). Its
`shuffle=True` draws one permutation of the list per epoch; the benchmark's
16 videos would give no batch of 32 with drop_last, so the sampler is the
same RandomSampler drawing --epoch_clips (default 9,537: UCF101 split 1's
training list) per epoch, permutation after permutation. Epochs are looped
endlessly, each with new workers, as main.py's training loop does.

Rates as pipeline_throughput.py's (`clip_rate.clips_per_second`: 1.5 s
warm-up, then batches counted for --seconds), printed as JSON {"wall",
"cpu"}, where "cpu" is clips per CPU-second x cores, the CPU time being this
process's plus its workers' (live ones from /proc, exited ones from os.times'
children times).

Install (the 2017 code runs on torch 2.13 and Pillow 12; `bash dev.sh test`
puts both in .venv):

    .venv/bin/python -m pip install -c requirements/constraints.txt torch pillow

torchvision: transforms.py imports it but its training path only uses
`torchvision.transforms.Compose`. The PyPI wheel of torchvision 0.28 is the
CUDA build (its _C.so needs libc10_cuda.so) and does not import next to the
CPU torch wheel, so when `import torchvision` fails a stand-in module with a
`Compose` (apply each transform in turn) takes its place; the JSON says which
one ran.
"""
import argparse
import json
import os
import sys
import types

import clip_rate

TEMPLATES = {"rgb": "img_{:05d}.jpg", "flow": "flow_{}_{:05d}.jpg"}
BN_INCEPTION = {"rgb": dict(scales=[1, .875, .75, .66], mean=[104, 117, 128], std=[1],
                            modality="RGB", new_length=1),
                "flow": dict(scales=[1, .875, .75], mean=[128], std=[1],
                             modality="Flow", new_length=5)}


# --- frames as files -----------------------------------------------------------

def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def write_frames(folder, videos):
    """Writes the JPEG bytes of `videos` (schema.VideoRecord) as tsn-pytorch's frame folders.

    One folder per video (video00000, ...) holding img_00001.jpg ... and
    flow_x_00001.jpg / flow_y_00001.jpg ...; returns {modality: list file},
    one "folder num_frames label" line per video, as its TSNDataSet reads
    (rgb_list.txt, and flow_list.txt when the videos have flow).
    """
    folder = os.path.abspath(folder)
    if any(c.isspace() for c in folder):
        raise ValueError(f"{folder!r}: tsn-pytorch's list file splits on spaces; use a path "
                         "without white space")
    lines = {"rgb": [], "flow": []}
    for i, video in enumerate(videos):
        directory = os.path.join(folder, f"video{i:05d}")
        os.makedirs(directory)
        label = video.label_indices[0]
        for index, jpeg in enumerate(video.rgb_jpegs, 1):
            _write(os.path.join(directory, TEMPLATES["rgb"].format(index)), jpeg)
        lines["rgb"].append(f"{directory} {len(video.rgb_jpegs)} {label}")
        if not video.flow_x_jpegs:
            continue
        for index, (x, y) in enumerate(zip(video.flow_x_jpegs, video.flow_y_jpegs), 1):
            _write(os.path.join(directory, TEMPLATES["flow"].format("x", index)), x)
            _write(os.path.join(directory, TEMPLATES["flow"].format("y", index)), y)
        lines["flow"].append(f"{directory} {len(video.flow_x_jpegs)} {label}")
    lists = {}
    for modality, rows in lines.items():
        if rows:
            lists[modality] = os.path.join(folder, f"{modality}_list.txt")
            _write(lists[modality], "".join(row + "\n" for row in rows).encode())
    return lists


# --- tsn-pytorch's loader ----------------------------------------------------------

def import_torchvision():
    """Imports torchvision, or puts a stand-in with transforms.Compose in its place
    when it does not import; returns its version or "stand-in Compose"."""
    try:
        import torchvision
        return torchvision.__version__
    except Exception:  # the CUDA wheel next to CPU torch raises RuntimeError/OSError
        for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
            del sys.modules[name]

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, data):
            for transform in self.transforms:
                data = transform(data)
            return data

    stand_in = types.ModuleType("torchvision")
    stand_in.transforms = types.ModuleType("torchvision.transforms")
    stand_in.transforms.Compose = Compose
    sys.modules.update({"torchvision": stand_in, "torchvision.transforms": stand_in.transforms})
    return "stand-in Compose"


def make_loader(checkout, list_file, modality, batch_size, workers, epoch_clips):
    """tsn-pytorch's train_loader for BNInception over `list_file` (after `import_torchvision`)."""
    sys.path.insert(0, os.path.abspath(checkout))
    import torch
    import torchvision
    import dataset  # tsn-pytorch's
    import transforms as T  # tsn-pytorch's

    config = BN_INCEPTION[modality]
    is_flow = modality == "flow"
    augmentation = torchvision.transforms.Compose([
            T.GroupMultiScaleCrop(224, config["scales"]), T.GroupRandomHorizontalFlip(is_flow=is_flow)])
    data = dataset.TSNDataSet(
            "", list_file, num_segments=3, new_length=config["new_length"],
            modality=config["modality"], image_tmpl=TEMPLATES[modality],
            transform=torchvision.transforms.Compose([
                augmentation, T.Stack(roll=True), T.ToTorchFormatTensor(div=False),
                T.GroupNormalize(config["mean"], config["std"])]))
    sampler = torch.utils.data.RandomSampler(data, num_samples=epoch_clips)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=sampler,
                                       num_workers=workers, pin_memory=False, drop_last=True)


# --- timing ------------------------------------------------------------------------

def _endless(loader):
    """Batches of `loader` epoch after epoch, each with new workers (as main.py's)."""
    while True:
        yield from loader


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tsn_pytorch", required=True, help="checkout of tsn-pytorch")
    parser.add_argument("--list", required=True, help="list file written by write_frames")
    parser.add_argument("--modality", choices=sorted(BN_INCEPTION), default="rgb")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--epoch_clips", type=int, default=9537)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    torchvision = import_torchvision()
    loader = make_loader(args.tsn_pytorch, args.list, args.modality, args.batch_size,
                         args.workers, args.epoch_clips)
    wall, cpu = clip_rate.clips_per_second(_endless(loader), args.batch_size, args.seconds)
    print(json.dumps({"wall": wall, "cpu": cpu, "torchvision": torchvision}))


if __name__ == "__main__":
    main()
