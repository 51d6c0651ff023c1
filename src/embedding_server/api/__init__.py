"""HTTP layer (no TensorFlow here): the native API at /api/v1 (`native/`),
the OpenAI and TF Serving compatible APIs, the platform's endpoints (`ops`),
and what they share: one request layer (`requests`), one way to read a body
and write JSON (`common`), one error policy (`errors`), keys and limits
(`access`)."""
