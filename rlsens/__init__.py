"""rlsens: benchmark how sensitive RL algorithms are to their hyperparameters and seeds.

The pipeline runs one way: suite -> plan of runs -> execution -> result store -> analysis
-> report. Each stage lives in its own module and talks to the next through a small data type
(``Suite``, ``RunSpec``, ``RunResult``, the ``runs``/``curves`` tables).
"""

__version__ = "0.1.0"
