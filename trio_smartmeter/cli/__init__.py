"""The process boundary: arguments, environment, logging set-up and the one-shot commands."""

from trio_smartmeter.cli.entry import main

__all__ = ["main"]
