"""The sans-IO core: wire formats, meter properties, the session's decisions, value types.

Pure code (like h11): nothing here imports trio, opens a file or reads a clock; the layers
above pass bytes, times and randomness in. tests/test_architecture.py holds it to that.
"""
