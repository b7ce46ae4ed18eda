"""Components: the spec (``component.yaml``), input checking, building and testing.

``spec`` reads and validates a component folder (``values`` says what each input
type accepts), ``inputs`` checks a job's inputs against a spec, ``build`` makes its
image, ``testing`` runs its examples in real containers (with ``testserver`` as the
HTTP service they may call), ``skeleton`` writes new components.
"""
