"""cxe-gate: a release gate on customer-experience metrics, and a regression seeder from customer HARs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cxe-gate")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
