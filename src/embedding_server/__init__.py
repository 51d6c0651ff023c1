"""Sentence-embedding model server: TensorFlow text-embedding models over a REST API."""

__version__ = "0.1.0"
