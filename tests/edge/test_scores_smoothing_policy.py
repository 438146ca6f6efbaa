"""The core's pure parts: probabilities, top-k, smoothing with a threshold, the publish policy."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from edge_core.policy import PublishPolicy
from edge_core.scores import softmax, to_probabilities, top_k
from edge_core.smoothing import Smoother
from sorter_common.classes import UNSURE

LABELS = ["compost", "landfill", "recycling"]


def test_probabilities_pass_through_and_logits_get_a_softmax() -> None:
    probabilities = np.array([0.1, 0.7, 0.2])
    assert np.allclose(to_probabilities(probabilities), probabilities)
    logits = np.array([1.0, 3.0, -2.0])
    assert np.allclose(to_probabilities(logits), softmax(logits))
    assert to_probabilities(logits).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no finite scores"):
        to_probabilities(np.array([np.nan, 1.0, 0.0]))


def test_top_k_is_best_first_and_checks_the_label_count() -> None:
    assert top_k(np.array([0.2, 0.5, 0.3]), LABELS, 2) == [("landfill", 0.5), ("recycling", 0.3)]
    with pytest.raises(ValueError, match=r"3 outputs but labels\.txt has 2"):
        top_k(np.array([0.2, 0.5, 0.3]), LABELS[:2])


def one_hot(index: int, confidence: float = 0.9) -> NDArray[np.float64]:
    rest = (1.0 - confidence) / 2
    vector = np.full(3, rest)
    vector[index] = confidence
    return vector


def test_one_odd_frame_does_not_flip_the_decision() -> None:
    smoother = Smoother(LABELS, window=5, threshold=0.6)
    decisions = [smoother.add(one_hot(0)).label for _ in range(5)]
    decisions.append(smoother.add(one_hot(2, 1.0)).label)
    decisions += [smoother.add(one_hot(0)).label for _ in range(3)]
    assert decisions == ["compost"] * 9


def test_a_lasting_change_flips_the_decision_and_a_vague_view_is_unsure() -> None:
    smoother = Smoother(LABELS, window=3, threshold=0.7)
    for _ in range(3):
        smoother.add(one_hot(0))
    labels = [smoother.add(one_hot(2)).label for _ in range(3)]
    assert labels == [UNSURE, UNSURE, "recycling"]  # the mixed windows in between are not trusted
    smoother.reset()
    decision = smoother.add(np.array([0.4, 0.35, 0.25]))
    assert decision.label == UNSURE
    assert decision.confidence == pytest.approx(0.4)


def test_policy_publishes_changes_and_heartbeats_within_the_rate_limit() -> None:
    policy = PublishPolicy(heartbeat_s=10.0, min_interval_s=1.0)

    def offer(label: str, now: float) -> bool:
        if policy.should_publish(label, now):
            policy.published(label, now)
            return True
        return False

    assert offer("compost", 0.0)  # the first decision always goes out
    assert not offer("compost", 5.0)  # same label, before the heartbeat
    assert offer("landfill", 5.5)  # a change goes out at once
    assert not offer("landfill", 12.0)  # 6.5 s since the last publish
    assert offer("landfill", 15.5)  # heartbeat: 10 s since the last publish


def test_policy_rate_limit_defers_a_change_without_losing_it() -> None:
    policy = PublishPolicy(heartbeat_s=10.0, min_interval_s=1.0)
    policy.published("compost", 0.0)
    assert not policy.should_publish("landfill", 0.5)  # inside the rate limit
    assert policy.should_publish("landfill", 1.0)  # the next frame after it
    policy.published("landfill", 1.0)
    assert not policy.should_publish("landfill", 10.9)
    assert policy.should_publish("landfill", 11.0)  # heartbeat
    with pytest.raises(ValueError):
        PublishPolicy(heartbeat_s=1.0, min_interval_s=2.0)
