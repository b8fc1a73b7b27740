"""Questions asked with logprobs: compare, branch, choose, sweep.

Each operation is a module of its own, built on the backends' interface and the trace; the
CLI and the web app call these and add no logic of their own.
"""
