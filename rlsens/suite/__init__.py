"""The suite stage: a YAML suite file -> a validated, frozen ``Suite``.

``load_suite(path, scale=None)`` is the entry point; every problem in the file is raised as a
``rlsens.errors.SuiteError`` naming file, line, key path and what is allowed.
"""

from rlsens.suite.design import Design
from rlsens.suite.model import Algorithm, Environment, Seeds, Suite
from rlsens.suite.parse import load_suite

__all__ = ["Algorithm", "Design", "Environment", "Seeds", "Suite", "load_suite"]
