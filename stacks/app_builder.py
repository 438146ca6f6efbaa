"""Builds every stack of the app from the config; app.py and the tests share this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import aws_cdk as cdk

from sorter_common.greengrass_components import EDGE_V2_STACK_NAME
from stacks import checkov
from stacks.config import EDGE_TARGET_DEEPLENS, EDGE_TARGET_GREENGRASS_V2, TrashSorterConfig
from stacks.data_stack import DataStack, data_bucket_name
from stacks.iot_stack import IotStack
from stacks.training_stack import TrainingStack

if TYPE_CHECKING:
    # Edge stacks are imported only when their target is on: synth pays for what it builds.
    from stacks.deeplens_stack import DeepLensStack
    from stacks.edge_v2_stack import EdgeV2Stack

PROJECT_TAG = "trash-sorter"


@dataclass(frozen=True)
class TrashSorterStacks:
    data: DataStack
    iot: IotStack
    training: TrainingStack
    deeplens: DeepLensStack | None = None
    edge_v2: EdgeV2Stack | None = None

    def all(self) -> list[cdk.Stack]:
        """Every stack built for this config (edge stacks only when their target is on)."""
        edge: list[cdk.Stack] = [stack for stack in (self.edge_v2, self.deeplens) if stack is not None]
        return [self.data, self.training, self.iot, *edge]


def build_stacks(app: cdk.App, config: TrashSorterConfig, *, account: str | None = None) -> TrashSorterStacks:
    """Each stack gets its own config section and the shared values it uses, nothing more."""
    env = cdk.Environment(account=account, region=config.region)
    bucket_name = data_bucket_name(config.data)
    data = DataStack(
        app,
        "TrashSorterData",
        config=config.data,
        env=env,
        description="Trash sorter: the deeplens- bucket for datasets and models (retained)",
    )
    iot = IotStack(
        app,
        "TrashSorterIot",
        config=config.iot,
        classes=config.classes,
        topic_prefix=config.topic_prefix,
        env=env,
        description="Trash sorter: the Pi's IoT thing, certificate and policy; decisions per bin in CloudWatch",
    )
    training = TrainingStack(
        app,
        "TrashSorterTraining",
        config=config.training,
        classes=config.classes,
        bucket_name=bucket_name,
        env=env,
        description="Trash sorter: SageMaker pipeline from images in the bucket to a registered, edge-ready model",
    )
    training.add_stack_dependency(data, "the pipeline reads and writes the data bucket")
    edge_v2 = None
    if config.has_edge_target(EDGE_TARGET_GREENGRASS_V2):
        from stacks.edge_v2_stack import EdgeV2Stack

        edge_v2 = EdgeV2Stack(
            app,
            EDGE_V2_STACK_NAME,
            config=config.greengrass,
            topic_prefix=config.topic_prefix,
            classes=config.classes,
            # The Pi's thing: the only client device the cameras' local brokers admit (local path).
            pi_thing_name=config.iot.pi_thing_name,
            bucket_name=bucket_name,
            env=env,
            description="Trash sorter (greengrass-v2 target): inference component, camera group, model promotion",
        )
        edge_v2.add_stack_dependency(data, "component artifacts and models live in the data bucket")
    deeplens = None
    if config.has_edge_target(EDGE_TARGET_DEEPLENS):
        from stacks.deeplens_stack import DeepLensStack

        deeplens = DeepLensStack(
            app,
            "TrashSorterDeepLens",
            config=config.deeplens,
            topic_prefix=config.topic_prefix,
            bucket_name=bucket_name,
            env=env,
            description="Trash sorter (legacy deeplens target): DeepLens inference Lambda and its Greengrass V1 group",
        )
        deeplens.add_stack_dependency(data, "the group delivers its model from the data bucket")
    cdk.Tags.of(app).add("project", PROJECT_TAG)
    cdk.Aspects.of(app).add(checkov.ProjectPolicies())
    return TrashSorterStacks(data=data, iot=iot, training=training, deeplens=deeplens, edge_v2=edge_v2)
