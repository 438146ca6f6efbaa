"""The Greengrass V2 camera rehearsed: the recipes the stack and the promotion function produce,
their variables substituted as the nucleus does, the Install script run with `sh -c` in a clean
folder on every Python the README claims, and the Run script classifying held-out images.

`python -m rehearse.camera` (make rehearse-camera); see __main__ for what each step proves.
"""
