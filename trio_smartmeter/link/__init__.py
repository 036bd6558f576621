"""The link to the module: the serial device, the SKSTACK IP client, the meter client.

Thin I/O adapters around the core: one reader task per port, one command at a time,
answers matched by identity, every wait with a deadline.
"""
