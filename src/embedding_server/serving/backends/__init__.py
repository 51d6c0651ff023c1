"""One backend per model format, each a `Runner`: ids (or texts) in, vectors out.

`tf1` runs a TF1 meta graph and checkpoint in its own graph and session
through tf.compat.v1; `tf2` runs a TF2 SavedModel's serving signature. A new
format is one new module whose runner meets `runner.Runner`.
"""
