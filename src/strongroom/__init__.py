"""strongroom: an AWS-compatible plane for database encryption, security and auditing."""

__version__ = "0.1.0"
