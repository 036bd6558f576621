"""The composition root: the one layer above both the service and the web."""
