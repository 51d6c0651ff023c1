"""Reading /metrics the way a scraper does (prometheus-client's own parser)."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample as (name, labels, value)."""
    return [(sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples]


def sample_value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    return sum(value for sample, sample_labels, value in parse_metrics(text)
               if sample == name and labels.items() <= sample_labels.items())


def metric_value(app, name: str, **labels: str) -> float:
    """A metric's value as the app's /metrics endpoint reports it."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    return sample_value(response.get_data(as_text=True), name, **labels)
