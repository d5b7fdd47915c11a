"""Draft: scaffold an app for Kubernetes, then build and deploy it on every save."""

__version__ = "0.1.0"
