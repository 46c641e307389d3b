"""Old import paths of moved modules and names: they keep working for one release
(0.2 drops them), each use warning with a DeprecationWarning that names the new path.

`install()` (run by ``tsn_tf/__init__``) puts a finder on `sys.meta_path` that
answers the old module names of `MOVED_MODULES` (``import``, ``from ... import``
and ``python -m``); `moved_attributes` gives a package the module-level
``__getattr__`` for names that moved out of it.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

# old module -> new modules (the old one's public names, in this order)
MOVED_MODULES = {
    "tsn_tf.input.schema": ("tsn_tf.input.contract.schema",),
    "tsn_tf.input.layout": ("tsn_tf.input.contract.layout",),
    "tsn_tf.input.preprocessing": ("tsn_tf.input.contract.preprocessing",),
    "tsn_tf.input.audio": ("tsn_tf.input.ingestion.audio", "tsn_tf.input.contract.log_mel"),
    "tsn_tf.input.video": ("tsn_tf.input.ingestion.video",),
    "tsn_tf.input.flow": ("tsn_tf.input.ingestion.flow",),
    "tsn_tf.input.flow_pool": ("tsn_tf.input.ingestion.flow_pool",),
    "tsn_tf.input.warp": ("tsn_tf.input.ingestion.warp",),
    "tsn_tf.input.encode": ("tsn_tf.input.ingestion.encode",),
    "tsn_tf.input.lists": ("tsn_tf.input.ingestion.lists",),
    "tsn_tf.input.shards": ("tsn_tf.input.ingestion.shards",),
    "tsn_tf.input.storage": ("tsn_tf.input.ingestion.storage",),
    "tsn_tf.input.progress": ("tsn_tf.input.ingestion.progress",),
    "tsn_tf.input.ingest_local": ("tsn_tf.input.ingestion.ingest_local",),
    "tsn_tf.input.ingest_beam": ("tsn_tf.input.ingestion.ingest_beam",),
    "tsn_tf.input.ingest_main": ("tsn_tf.input.ingestion.ingest_main",),
    "tsn_tf.input.relayout_main": ("tsn_tf.input.ingestion.relayout_main",),
    "tsn_tf.input.records": ("tsn_tf.input.pipeline.records",),
    "tsn_tf.input.sampling": ("tsn_tf.input.pipeline.sampling",),
    "tsn_tf.input.crops": ("tsn_tf.input.pipeline.crops",),
    "tsn_tf.input.modalities": ("tsn_tf.input.pipeline.modalities",),
    "tsn_tf.input.frame_check": ("tsn_tf.input.pipeline.frame_check",),
    "tsn_tf.input.audio_pipeline": ("tsn_tf.input.pipeline.audio_dataset",),
    "tsn_tf.input.synthetic": ("tsn_tf.synthetic.videos",),
    "tsn_tf.input.synthetic_audio": ("tsn_tf.synthetic.audio",),
    "tsn_tf.export.preprocess": ("tsn_tf.ops.serving",),
    "tsn_tf.export.audio_preprocess": ("tsn_tf.ops.serving_audio",),
}


def _warn(old: str, new: str, stacklevel: int = 3):
    warnings.warn(f"{old} moved to {new}; the old path goes in tsn-tf 0.2",
                  DeprecationWarning, stacklevel=stacklevel)


class _MovedLoader(importlib.abc.Loader):
    """Loads an old module name as a module holding the new modules' public names."""

    def __init__(self, old: str, targets):
        self.old, self.targets = old, targets

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        _warn(self.old, " and ".join(self.targets), stacklevel=8)
        for target in reversed(self.targets):
            module.__dict__.update({name: value for name, value
                                    in vars(importlib.import_module(target)).items()
                                    if not name.startswith("__")})

    def get_code(self, name):
        """`python -m <old name>` runs the new module's code."""
        print(f"note: {self.old} moved to {self.targets[0]}; the old path goes in tsn-tf 0.2",
              file=sys.stderr)
        return importlib.util.find_spec(self.targets[0]).loader.get_code(self.targets[0])


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name not in MOVED_MODULES:
            return None
        targets = MOVED_MODULES[name]
        origin = importlib.util.find_spec(targets[0]).origin  # python -m's sys.argv[0]
        return importlib.util.spec_from_loader(name, _MovedLoader(name, targets), origin=origin)


def install():
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())


def moved_attributes(package: str, moved: dict):
    """A module ``__getattr__`` resolving `moved` names (name -> new module) with a warning."""
    def __getattr__(name):
        if name not in moved:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        _warn(f"{package}.{name}", f"{moved[name]}.{name}")
        return getattr(importlib.import_module(moved[name]), name)
    return __getattr__
