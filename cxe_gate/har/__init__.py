"""HAR ingestion: HAR files → entries → scrubbed entries → journeys → clusters → a journey map.

`build_journey_map` (in `pipeline`) runs the whole way; each module is one stage."""

from __future__ import annotations
