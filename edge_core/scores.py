"""From a network output to class probabilities and the top-k list of a message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Sequence, Tuple

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

# The exported graph already ends in softmax; a vector within this of summing to one is used as is.
_PROBABILITY_TOLERANCE = 1e-3


def softmax(scores: NDArray[Any]) -> NDArray[Any]:
    values: NDArray[Any] = np.asarray(scores, dtype=np.float64).ravel()
    exponentials: NDArray[Any] = np.exp(values - values.max())
    probabilities: NDArray[Any] = exponentials / exponentials.sum()
    return probabilities


def to_probabilities(output: NDArray[Any]) -> NDArray[Any]:
    """A 1-D probability vector from any backend's output (probabilities or raw logits)."""
    values: NDArray[Any] = np.asarray(output, dtype=np.float64).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("the model returned no finite scores")
    if values.min() >= 0.0 and abs(values.sum() - 1.0) <= _PROBABILITY_TOLERANCE:
        normalized: NDArray[Any] = values / values.sum()
        return normalized
    return softmax(values)


def top_k(probabilities: NDArray[Any], labels: Sequence[str], k: int = 3) -> List[Tuple[str, float]]:
    """The k most probable labels, best first."""
    if len(probabilities) != len(labels):
        raise ValueError(
            f"the model has {len(probabilities)} outputs but labels.txt has {len(labels)} labels"
        )
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:k]
    return [(labels[index], float(probabilities[index])) for index in order]
