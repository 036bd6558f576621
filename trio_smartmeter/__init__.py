"""trio-smartmeter: a Prometheus exporter for Japanese smart meters over the Wi-SUN B-route."""

from trio_smartmeter._version import __version__ as __version__
