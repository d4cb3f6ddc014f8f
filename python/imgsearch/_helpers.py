"""Pure-Python pieces of the package that the extension calls back into."""

from __future__ import annotations

import warnings
from typing import Any


class TqdmProgress:
    """index(progress=True): a tqdm bar of files handled, when tqdm is installed (a
    warning and no bar otherwise)."""

    def __init__(self) -> None:
        self._bar: Any = None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            warnings.warn("progress=True needs tqdm (pip install tqdm); indexing without a bar",
                          stacklevel=3)
            return
        self._bar = tqdm(total=0, unit="img", desc="index")

    def __call__(self, progress: Any) -> None:
        if self._bar is None:
            return
        if self._bar.total != progress.total:
            self._bar.total = progress.total
        self._bar.update(progress.done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
