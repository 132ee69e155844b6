"""The one exception type users catch for bad input."""

from __future__ import annotations


class T2TInputError(ValueError):
    """Raised for any bad input: a file that is not a capture, a corrupt or
    empty capture, a bad option, a broken config, malformed features.

    The message names the file (when there is one), where the problem is
    (byte offset or record number) and what to do about it.
    """

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None,
                 record: int | None = None) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if record is not None:
            where.append(f"record {record}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        full = f"{': '.join([', '.join(where), message]) if where else message}"
        super().__init__(full)
        self.path = path
        self.offset = offset
        self.record = record


class T2TInputWarning(UserWarning):
    """Warned when input is usable but damaged, e.g. a capture cut short in its
    last record (everything before the cut is returned, as tshark does)."""
