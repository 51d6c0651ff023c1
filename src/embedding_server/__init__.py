"""Sentence-embedding model server: TensorFlow text-embedding models over a REST API."""
import os

# TensorFlow's C++ start-up chatter (CUDA probes on CPU-only hosts) drowns the
# server's own log; an operator who wants it sets the variable explicitly.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
