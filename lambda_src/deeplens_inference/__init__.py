"""The DeepLens inference Lambda: a pinned, long-lived Greengrass V1 function (Python 3.7 syntax)."""
