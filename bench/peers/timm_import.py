"""Imports timm 1.0 for the model peers. timm's package imports torchvision (transforms, datasets,
FrozenBatchNorm2d) although creating and training its models never calls it; where torchvision is
not installed (it has no CPU wheel for PyTorch 2.13 here), its modules are stood in by empty ones
whose names resolve to placeholders that fail when used, and timm's models run unchanged."""
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types


class _Placeholder(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return f"{cls.__name__}.{name}"  # enum members such as InterpolationMode.BILINEAR, used as dict keys


class _Unavailable(metaclass=_Placeholder):
    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} needs torchvision, which is not installed")


class _StandInLoader(importlib.abc.Loader):
    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []

        def missing(name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _Placeholder(name, (_Unavailable,), {})
        module.__getattr__ = missing
        return module

    def exec_module(self, module):
        pass


class _StandInFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, _StandInLoader(), is_package=True)
        return None


def import_timm():
    """timm, with torchvision stood in where it is missing or broken; (module, note for the report)."""
    note = ""
    try:
        import torchvision  # noqa: F401
    except Exception:  # absent, or a build for another torch whose operators fail to register
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.meta_path.insert(0, _StandInFinder())
        note = " (torchvision stood in)"
    import timm
    return timm, note
