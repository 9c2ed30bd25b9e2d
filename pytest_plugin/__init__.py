"""cxe-gate's pytest plugin, imported as `cxe_gate_pytest` (registered with the `pytest11` entry point).

`pytest --cxe-config cxe.yml` collects each criterion as a test item and ends with the gate's
summary; without a criteria file the plugin changes nothing."""

from .fixtures import CxeGate, Measurements, cxe_gate
from .messages import CxeGateWarning
from .options import pytest_addoption
from .plugin import pytest_configure

__all__ = [
    "CxeGate",
    "CxeGateWarning",
    "Measurements",
    "cxe_gate",
    "pytest_addoption",
    "pytest_configure",
]
