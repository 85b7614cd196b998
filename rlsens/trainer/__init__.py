"""The single-run trainer: ``rlsens.trainer.run.train(spec) -> RunResult``.

Import what you need from its submodules (``run``, ``build``, ``evaluation``, ``placement``):
``run``, ``build`` and ``evaluation`` import torch and stable-baselines3 (seconds in a fresh
process), so this package itself imports nothing and stays free for callers that only plan or
validate.
"""
