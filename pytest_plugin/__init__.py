"""cxe-gate's pytest plugin, imported as `cxe_gate_pytest` (registered with the `pytest11` entry point)."""
