"""Components: the spec (``component.yaml``), input checking, building and testing.

``spec`` reads and validates a component folder, ``inputs`` checks a job's inputs
against a spec, ``build`` makes its image, ``testing`` runs its examples in real
containers, ``skeleton`` writes new components.
"""
