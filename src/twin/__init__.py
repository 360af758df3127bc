"""twin: a facility digital twin and DCIM monitor for AI data centres."""

__version__ = "0.1.0"
