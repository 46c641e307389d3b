"""BUILD-free setup for tsn-tf: one installed namespace `tsn_tf`.

The user's top-level folders `input/`, `trainers/`, `export/`, `convert/` and
`synthetic/` are mapped to `tsn_tf.input`, `tsn_tf.trainers`, ... so nothing
generic named `input` lands in site-packages.
"""
from setuptools import setup

PACKAGE_DIRS = {
    "tsn_tf": "tsn_tf",
    "tsn_tf.backbones": "tsn_tf/backbones",
    "tsn_tf.ops": "tsn_tf/ops",
    "tsn_tf.input": "input",
    "tsn_tf.input.contract": "input/contract",
    "tsn_tf.input.ingestion": "input/ingestion",
    "tsn_tf.input.ingestion.lists": "input/ingestion/lists",
    "tsn_tf.input.pipeline": "input/pipeline",
    "tsn_tf.synthetic": "synthetic",
    "tsn_tf.trainers": "trainers",
    "tsn_tf.export": "export",
    "tsn_tf.convert": "convert",
}

setup(
    name="tsn-tf",
    version="0.1.0",
    description="Temporal Segment Networks (TPAMI 2018) in TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=list(PACKAGE_DIRS),
    package_dir=PACKAGE_DIRS,
    # TensorFlow itself comes from an extra: `cpu` (tensorflow-cpu) or `gpu`
    # (tensorflow[and-cuda]); both are the same 2.17 API.
    install_requires=[
        "tensorflow-io==0.37.1",
        "keras>=3.5,<4",
        "numpy>=1.26,<2",
        "opencv-contrib-python-headless>=4.9,<4.12",
        "absl-py>=2.0",
        "av>=12",  # PyAV: audio tracks (its wheels bundle FFmpeg)
        "tqdm>=4.66",  # progress bars (ingestion, flow inside a video)
    ],
    entry_points={"console_scripts": [
        "tsn-ingest = tsn_tf.input.ingestion.ingest_main:run_main",
        "tsn-train = tsn_tf.trainers.train:run",
        "tsn-eval = tsn_tf.trainers.evaluate:run",
        "tsn-fuse = tsn_tf.trainers.fuse:run",
        "tsn-export = tsn_tf.export.export_main:run",
        "tsn-predict = tsn_tf.export.predict_main:run",
        "tsn-demo = tsn_tf.trainers.demo:run_main",
        "tsn-convert = tsn_tf.convert.convert_main:run",
        "tsn-features = tsn_tf.trainers.features:run",
    ]},
    extras_require={
        "cpu": ["tensorflow-cpu>=2.17,<2.18"],
        "gpu": ["tensorflow[and-cuda]>=2.17,<2.18"],
        "beam": ["apache-beam>=2.60", "protobuf>=4.25,<5"],
        # torch 2.13.0 (pinned in the constraints) builds the reference networks the
        # converter is checked against; `dev.sh test` installs it, tsn-convert never
        # imports it, and the demo does without.
        "test": ["pytest>=8", "pandas>=2.2"],  # pandas: reads feature CSVs as BSN / BMN do
        "profile": ["tensorboard-plugin-profile>=2.17,<2.18"],  # TensorBoard's profiler tab
        # tensorflow-serving-api is not an extra: it requires `tensorflow` (the GPU
        # wheel), so it is installed with `pip install --no-deps` (README, dev.sh);
        # so is pretrainedmodels (tests only, by dev.sh: its torchvision does not fit torch 2.13).
    },
)
