"""nnscratch's version (``nn.__version__``, ``nn.version.VERSION`` as keras.version)."""
VERSION = "0.1.0"
__version__ = VERSION


def version():
    return VERSION
