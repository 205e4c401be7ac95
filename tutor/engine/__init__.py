"""Engines turn a `Request` into a `Report` (the protocol is in tutor/core/protocol.py).

- `in_process`: computes in the calling thread (scripts, tests, the screenshot command).
- `process`: the app's side of a child process that computes; imports neither torch nor the model.
- `child`: the child process itself, which imports torch and runs the model.

Nothing here is imported by `import tutor.engine`: the app must be able to use `process` without torch.
"""
