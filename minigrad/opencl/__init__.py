"""The OpenCL engine: ``runtime`` (device, context, program cache) and ``backend`` (the protocol).

Importing this package does not touch any device; ``runtime.available()`` does.
"""
