"""Blocks of numbers from the native module as numpy arrays and pandas DataFrames,
without copying them."""

import numpy as np


def arrays(table):
    """The columns of a native table `(int names, int block, float names, float block)`
    as ``{name: 1-D array}`` in the table's order; each array is a view of the block
    that Rust built (a row of the ``(columns, rows)`` array, so contiguous)."""
    inames, iblock, fnames, fblock = table
    ints = np.asarray(iblock)
    floats = np.asarray(fblock)
    out = {n: ints[k] for k, n in enumerate(inames)}
    out.update({n: floats[k] for k, n in enumerate(fnames)})
    return out


def frame(table, index=None):
    """A DataFrame of a native table: the float block becomes the frame's one float
    block as it is (pandas stores a block as ``(columns, rows)``, which is how Rust laid
    it out), and the integer columns are inserted in front, each a view too."""
    pd = pandas()
    inames, iblock, fnames, fblock = table
    ints = np.asarray(iblock)
    floats = np.asarray(fblock)
    df = pd.DataFrame(floats.T, columns=list(fnames), copy=False)
    for k, n in enumerate(inames):
        df.insert(k, n, ints[k], allow_duplicates=True)
    if index is not None:
        df = df.set_index(index, drop=False)
        df.index.name = None
    return df


def pandas():
    """pandas, or an ImportError that says how to get it."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "DataFrames need pandas: pip install pandas (or use the *_arrays properties, "
            "which are numpy arrays)"
        ) from None
    return pd


def pyplot():
    """matplotlib's pyplot, or an ImportError that says how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install matplotlib") from None
    return plt
