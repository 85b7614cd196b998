"""Errors a user can act on.

Every error that reaches the command line says what is wrong, where (file, line, key path) and
how to fix it; the CLI prints it without a traceback and exits with code 2.
"""

from __future__ import annotations

from dataclasses import dataclass


class RlsensError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""


@dataclass
class SuiteError(RlsensError):
    """A problem in a suite file, located as precisely as the parser allows."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<suite>"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class StoreError(RlsensError):
    """A result store that cannot be read or written as asked (bad record, lock held, ...)."""


class UsageError(RlsensError):
    """A command-line request that cannot be honoured as given."""


class ExposureError(RlsensError):
    """A Ray instance rlsens started would be reachable from other machines; nothing was run.

    Unauthenticated Ray executes whatever code it is sent, so rlsens refuses to use it.
    """
