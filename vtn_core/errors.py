"""Exception types shared by the whole package.

Every error a user can cause (a bad file, a bad argument) is a ``VTNError``: the CLI prints its
message as ``error: ...`` and exits 2, the app shows it in an error box. Anything else is a bug.
"""
from __future__ import annotations


class VTNError(Exception):
    """Base class of every user-facing error: the message says what is wrong and what to do."""


class CheckpointError(VTNError):
    """A checkpoint file cannot be opened as a VTN (names the file, what was expected and found)."""


class VideoError(VTNError):
    """A video file cannot be probed or decoded (names the file and the problem)."""


class DataError(VTNError):
    """A dataset folder or labels file is malformed."""
