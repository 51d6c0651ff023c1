"""A loaded model: vocabulary, signature and backend, ready to embed texts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .errors import InvalidParameter
from .signature import Signature
from .text import Vocabulary, encode
from .tf1 import TF1Runner, describe_tf_error


@dataclass(frozen=True)
class Embeddings:
    """Vectors in input order, with each text's tokens after OOV replacement."""
    vectors: np.ndarray
    tokens: list[list[str]]


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; an all-zero row (no tokens) stays zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class WarmUpError(Exception):
    """The model loaded but cannot compute an embedding for its own vocabulary."""


class Servable:
    def __init__(self, signature: Signature, vocabulary: Vocabulary,
                 runner: TF1Runner, checkpoint_format: str):
        self.signature = signature
        self.vocabulary = vocabulary
        self.runner = runner
        self.checkpoint_format = checkpoint_format
        self.max_length = runner.max_length
        self.embedding_dim = 0

    def embed(self, texts: Sequence[str], length: int | None = None,
              parameters: Mapping[str, float] | None = None,
              normalize: bool = False) -> Embeddings:
        """Embed a batch of texts.

        `length` lowers the truncation length of variable-length models; a
        model with a fixed input width (bow-spanish: 20) always uses it.
        """
        if parameters:
            unknown = sorted(set(parameters) - set(self.signature.parameters))
            if unknown:
                accepted = ", ".join(sorted(self.signature.parameters)) or "none"
                raise InvalidParameter(
                    f"this model does not take {', '.join(unknown)} "
                    f"(parameters it takes: {accepted})")
        max_length = self.max_length
        if length is not None and self.runner.fixed_width is None:
            max_length = min(length, max_length)
        encoded = encode(texts, self.vocabulary, max_length,
                         self.signature.truncating, self.runner.fixed_width)
        vectors = self.runner.run(encoded.ids, encoded.lengths, parameters)
        if normalize:
            vectors = l2_normalize(vectors)
        return Embeddings(vectors=vectors, tokens=encoded.tokens)

    def warm_up(self) -> None:
        """One inference that includes the vocabulary's largest id.

        A vocabulary larger than the embedding matrix fails here, at load,
        instead of on the first user request that happens to use that word.
        """
        width = self.runner.fixed_width or 2
        ids = np.zeros((2, width), dtype=np.int64)
        ids[0, 0] = self.vocabulary.max_id
        ids[1, :2] = [self.vocabulary.max_id, 1]
        lengths = np.array([1, min(2, width)], dtype=np.int64)
        try:
            vectors = self.runner.run(ids, lengths)
        except Exception as error:  # TensorFlow raises many kinds; all fail the load
            raise WarmUpError(
                "warm-up inference with the vocabulary's largest id "
                f"({self.vocabulary.max_id}) failed; does the vocabulary fit "
                f"the model? ({describe_tf_error(error)})") from error
        if vectors.ndim != 2 or vectors.shape[0] != 2:
            raise WarmUpError(f"the output tensor has shape {list(vectors.shape)}; "
                              "expected [batch, dimension]")
        if not np.all(np.isfinite(vectors)):
            raise WarmUpError("warm-up inference produced NaN or infinite values")
        self.embedding_dim = int(vectors.shape[1])

    def close(self) -> None:
        self.runner.close()
