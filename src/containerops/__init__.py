"""ContainerOps: container-native DevOps orchestration.

A flow's stages run in order, a stage's actions in sequence or in parallel, an
action's jobs one after another; each job is a component (a container image)
that takes key/value input through its environment and reports key/value
output on its standard output.
"""

__version__ = "0.1.0"
