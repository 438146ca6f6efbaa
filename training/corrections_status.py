"""How many corrections people at the bin made since the model in use was trained.

The model in use is the newest Approved package of the model package group (what the promotion
deploys); its creation time is when its training run registered it. The corrections are the
CloudWatch counts the corrections IoT rule keeps (stacks/constructs/field_corrections.py), summed
by the hour from then until now: per true class, and the confirmations (shown == true) among them.
Runs on the operator's machine with their credentials, like the rest of `pipeline`.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sorter_common.correction import CORRECTED_TO_METRIC, FIELD_PAIR_METRIC
from sorter_common.iot_identity import METRICS_NAMESPACE
from sorter_common.training_pipeline import MODEL_PACKAGE_GROUP

PERIOD_S = 3600  # CloudWatch keeps hourly sums for 455 days
QUERIES_PER_CALL = 500  # GetMetricData's limit


def model_in_use(sagemaker: Any, group: str = MODEL_PACKAGE_GROUP) -> tuple[str, datetime] | None:
    """(ARN, creation time) of the newest approved model package, or None before the first approval."""
    packages = sagemaker.list_model_packages(
        ModelPackageGroupName=group, ModelApprovalStatus="Approved", SortBy="CreationTime",
        SortOrder="Descending", MaxResults=1,
    )["ModelPackageSummaryList"]
    if not packages:
        return None
    return str(packages[0]["ModelPackageArn"]), packages[0]["CreationTime"]


def _correction_metrics(cloudwatch: Any) -> list[str]:
    names: list[str] = []
    for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=METRICS_NAMESPACE):
        names += [m["MetricName"] for m in page["Metrics"]
                  if m["MetricName"].startswith((CORRECTED_TO_METRIC, FIELD_PAIR_METRIC))]
    return sorted(set(names))


def corrections_since(cloudwatch: Any, since: datetime, until: datetime) -> Counter[str]:
    """Metric name -> corrections counted between since and until."""
    names = _correction_metrics(cloudwatch)
    totals: Counter[str] = Counter()
    for first in range(0, len(names), QUERIES_PER_CALL):
        batch = names[first:first + QUERIES_PER_CALL]
        queries = [
            {"Id": f"m{index}", "Label": name, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": METRICS_NAMESPACE, "MetricName": name}, "Period": PERIOD_S, "Stat": "Sum"}}
            for index, name in enumerate(batch)
        ]
        for page in cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries, StartTime=since, EndTime=until
        ):
            for result in page["MetricDataResults"]:
                totals[batch[int(result["Id"][1:])]] += int(sum(result["Values"]))
    return totals


def corrections_summary(sagemaker: Any, cloudwatch: Any, now: datetime | None = None) -> str:
    in_use = model_in_use(sagemaker)
    if in_use is None:
        return "corrections from the bin: no approved model yet, so none counted against one"
    arn, trained = in_use
    totals = corrections_since(cloudwatch, trained, now or datetime.now(UTC))
    by_class = {name[len(CORRECTED_TO_METRIC):]: count for name, count in totals.items()
                if name.startswith(CORRECTED_TO_METRIC) and count}
    confirmations = sum(
        count for name, count in totals.items()
        if name.startswith(FIELD_PAIR_METRIC) and len(set(name[len(FIELD_PAIR_METRIC):].split("/"))) == 1
    )
    total = sum(by_class.values())
    detail = ", ".join(f"{label} {count}" for label, count in sorted(by_class.items()))
    return (
        f"corrections from the bin since the model in use was trained ({trained:%Y-%m-%d %H:%M} UTC, {arn}): "
        f"{total}" + (f" ({detail}; {confirmations} of them confirmations)" if total else "")
    )
