"""cxe-gate: a release gate on customer-experience metrics, and a regression seeder from customer HARs."""

try:
    # Written by setuptools-scm when the package is built or installed; importlib.metadata, the
    # fallback, costs every run about 40 ms of start-up.
    from ._version import version as __version__
except ImportError:  # a source tree that was not installed
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("cxe-gate")
    except PackageNotFoundError:
        __version__ = "0.0.0+source"
