"""An example web shop with real customer-experience signals (analytics events, request logs,
feedback, Prometheus metrics) and a traffic simulator that fills them, for trying cxe-gate."""
