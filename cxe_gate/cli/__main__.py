"""`python -m cxe_gate.cli`: the `cxe-gate` command."""

from . import main

main()
