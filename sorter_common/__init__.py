"""Shared contracts of the trash sorter: classes, topics, messages, model input, artifact names.

One definition of each contract lives here and is bundled into every asset that needs it
(the DeepLens Lambda, the Greengrass V2 component, the Pi subscriber, the training code), with
the little plumbing they all need written once: backoff, atomic_build, reproducible_tar.
Everything in this package keeps Python 3.7 syntax: the DeepLens runs Python 3.7.
"""
