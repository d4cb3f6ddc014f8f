"""Exceptions: one imgsearch.Error subclass per C++ status code, the C++ message."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

import imgsearch


def test_hierarchy() -> None:
    codes = {
        imgsearch.InvalidArgument: "invalid_argument",
        imgsearch.NotFound: "not_found",
        imgsearch.Corruption: "corruption",
        imgsearch.Unsupported: "unsupported",
        imgsearch.IOError: "io_error",
        imgsearch.ResourceExhausted: "resource_exhausted",
        imgsearch.Internal: "internal",
        imgsearch.NoSpace: "no_space",
    }
    for cls, code in codes.items():
        assert issubclass(cls, imgsearch.Error) and cls.code == code
    assert issubclass(imgsearch.InvalidArgument, ValueError)
    assert issubclass(imgsearch.NotFound, LookupError)
    assert issubclass(imgsearch.IOError, builtins.OSError)
    assert issubclass(imgsearch.NoSpace, imgsearch.IOError)
    assert "IOError" not in imgsearch.__all__  # never shadows the builtin on import *


def test_message_is_the_libraries(tmp_path: Path) -> None:
    db = imgsearch.Database.open(tmp_path / "db")
    with pytest.raises(imgsearch.NotFound) as error:
        db.get_collection("absent")
    assert "absent" in str(error.value)
    assert error.value.code == "not_found"


def test_corrupt_image(tmp_path: Path) -> None:
    lib = imgsearch.Library.open(tmp_path / "lib", models=["color_layout"])
    with pytest.raises(imgsearch.Error) as error:
        lib.add_image(b"\x89PNG\r\n\x1a\n truncated")
    assert type(error.value) is not imgsearch.Error
