"""What HTTP clients see: the metrics, the status page and API, the ASGI server."""
