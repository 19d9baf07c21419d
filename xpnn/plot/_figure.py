"""What every plot shares: matplotlib (imported here and nowhere else in xpnn), a new Figure,
the destination check and the atomic PNG write."""

from __future__ import annotations

import os

from ..backend import check_not_read_only, write_atomically

INSTALL = 'pip install "xpnn[plot]"'

try:
    # the object-oriented API only: a Figure made directly has no GUI window and is not kept in
    # pyplot's registry of open figures, so no display is needed and nothing leaks between plots
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
except ImportError as error:
    raise ImportError(f"xpnn.plot draws with matplotlib, which is not installed: {INSTALL}") from error

#: dots per inch of a saved PNG: small files, still sharp in a README
DPI = 100


def check_path(path, where: str):
    """``path`` as given, or a named error before anything is drawn: TypeError unless it is a
    str or os.PathLike (or None: nothing saved), ValueError for an empty name or one that does
    not end in .png, IsADirectoryError for a folder,
    FileNotFoundError for a file in a missing folder (the wording of ``write_atomically``),
    PermissionError for a read-only file."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a file path (str or os.PathLike) or None, got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes) or not text.strip():
        raise ValueError(f"{where}: path must name a file such as 'plot.png', got {text!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{where}: path {os.fspath(path)!r} is a folder; give a file name such as 'plot.png'")
    if os.path.splitext(text)[1].lower() != ".png":  # written as a PNG: a .jpg holding PNG data misleads
        raise ValueError(f"{where}: path must end in .png (figures are saved as PNG), got {text!r}")
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {os.fspath(path)!r}: folder {folder!r} does not exist")
    check_not_read_only(path)
    return path


def new_figure(width: float, height: float) -> Figure:
    """A Figure of ``width`` x ``height`` inches whose axes are laid out without overlaps."""
    return Figure(figsize=(width, height), layout="constrained")


def finish(figure: Figure, path) -> Figure:
    """Save ``figure`` as a PNG at ``path`` (already checked; None: not saved), atomically so a
    reader never sees half a file; return it."""
    if path is not None:
        write_atomically(path, lambda stream: figure.savefig(stream, format="png", dpi=DPI))
    return figure


def whole_epochs(axes) -> None:
    """Ticks at whole epochs only: a 3-epoch run is not labelled 1.5, 2.5."""
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def grid(count: int, columns: int) -> tuple[int, int]:
    """(rows, columns) of a grid holding ``count`` axes, at most ``columns`` wide."""
    columns = max(1, min(count, columns))
    return -(-count // columns), columns
