"""The SageMaker training pipeline: its code bundle, container images and generated definition."""
