"""Lua for flows' scripts: the sandbox (``sandbox``), the worker processes that run it
(``worker``) and the parent's pool of them (``pool``).

A package of its own, below the engine, so that the model can compile scripts
(syntax checks at validation) and a worker starts without importing the engine.
Nothing is imported here: each user loads the part it needs.
"""
