"""imgsearch's exceptions: one class per status code of the C++ library
(include/imgsearch/status.h), all deriving from :class:`Error`. The message is the C++
library's own."""

from __future__ import annotations


class Error(Exception):
    """Base class of every error imgsearch raises."""

    #: The C++ StatusCode's name, e.g. ``"not_found"``.
    code: str = "unknown"


class InvalidArgument(Error, ValueError):
    """The caller's input is malformed or out of range (wrong dtype, shape, option...)."""

    code = "invalid_argument"


class NotFound(Error, LookupError):
    """A named thing (file, model, image id, collection) does not exist."""

    code = "not_found"


class Corruption(Error):
    """Stored or supplied data fails a consistency check (a broken image or file)."""

    code = "corruption"


class Unsupported(Error):
    """Well-formed input that imgsearch does not handle."""

    code = "unsupported"


class IOError(Error, OSError):  # noqa: A001 - mirrors StatusCode::kIOError
    """The operating system refused a read or write."""

    code = "io_error"


class ResourceExhausted(Error):
    """A size or pixel limit was exceeded."""

    code = "resource_exhausted"


class Internal(Error):
    """A bug, or a failure inside a dependency."""

    code = "internal"


class NoSpace(IOError):
    """The disk (or the file system's quota) is full: free space, then retry."""

    code = "no_space"


__all__ = [
    "Error",
    "InvalidArgument",
    "NotFound",
    "Corruption",
    "Unsupported",
    "IOError",
    "ResourceExhausted",
    "Internal",
    "NoSpace",
]
