"""What the service tells its operators: metrics (``/metrics``), structured JSON
logs carrying a request id, and the ``/health`` and ``/ready`` probes."""
