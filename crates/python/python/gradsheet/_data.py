"""Data in any shape a notebook holds it, turned into named float64 columns for the
native module: a pandas DataFrame, a dict of columns, a 2-D numpy array, arrays given as
``x=`` and ``y=``, or the path of a CSV file or a workbook."""

import csv
import os

import numpy as np

from ._errors import SettingError


def _column(name, values):
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise SettingError(f"the column '{name}' is not numbers: {e}", "data") from None
    if a.ndim != 1:
        raise SettingError(
            f"the column '{name}' has shape {a.shape}: a column is one-dimensional", "data"
        )
    return a


def read_csv(path, skip_rows=0):
    """The columns of a CSV file with a header row and numeric cells. A bad cell is named
    by row and column as a spreadsheet user finds it (the header is row 1)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))[skip_rows:]
    lines = [l for l in lines if any(c.strip() for c in l)]
    if not lines:
        raise SettingError(f"{path}: the file has no header row", "data")
    header = [h.strip() for h in lines[0]]
    cols = [[] for _ in header]
    for r, line in enumerate(lines[1:], start=skip_rows + 2):
        if len(line) != len(header):
            raise SettingError(
                f"{path}: row {r} has {len(line)} cells where the header has {len(header)}",
                "data",
            )
        for c, cell in enumerate(line):
            try:
                cols[c].append(float(cell))
            except ValueError:
                raise SettingError(
                    f"{path}: row {r}, column {_letter(c)} ('{header[c]}'): "
                    f"'{cell}' is not a number",
                    "data",
                ) from None
    return {h: np.array(v, dtype=np.float64) for h, v in zip(header, cols)}


def _letter(c):
    s = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        s = chr(65 + r) + s
    return s


def _read_file(path, sheet, skip_rows):
    ext = os.path.splitext(str(path))[1].lower()
    if ext in (".xlsx", ".xlsm", ".xls", ".ods"):
        try:
            import pandas as pd
        except ImportError:
            raise SettingError(
                f"{path}: reading a workbook needs pandas (pip install pandas openpyxl)",
                "data",
            ) from None
        df = pd.read_excel(path, sheet_name=sheet or 0, skiprows=skip_rows)
        return {str(k): df[k] for k in df.columns}
    if sheet is not None:
        raise SettingError(f"{path}: sheet= applies to workbooks, not to CSV files", "data")
    return read_csv(path, skip_rows)


def columns(data=None, x=None, y=None, columns=None, sheet=None, skip_rows=0):
    """``(names, arrays)`` of the data, or ``None`` for the graddesc data (y = 2x + 30).

    ``data`` is a DataFrame, a dict of columns, a 2-D array (its columns named by
    ``columns``, or x and y for two), a path, or None. ``x`` and ``y`` are either arrays
    (the data itself) or, with ``data``, the names of the columns that play x and y.
    ``columns`` renames: ``{"x": "Size", "y": "Price"}`` takes the column ``Size`` as x.
    """
    if data is None:
        if x is None and y is None:
            if columns is not None:
                raise SettingError("columns= needs data=", "columns")
            return None
        named = {}
        if x is not None:
            named["x"] = x
        if y is not None:
            named["y"] = y
        return _named(named, None)
    if isinstance(data, (str, os.PathLike)):
        data = _read_file(data, sheet, skip_rows)
    elif sheet is not None or skip_rows:
        raise SettingError("sheet= and skip_rows= apply to a file given as data=", "data")
    if hasattr(data, "columns") and hasattr(data, "dtypes") and not isinstance(data, dict):
        # A DataFrame's text or date columns are left out: the model can only use numbers.
        from pandas.api.types import is_numeric_dtype

        table = {str(k): data[k] for k in data.columns if is_numeric_dtype(data[k].dtype)}
    elif isinstance(data, dict):
        table = {str(k): v for k, v in data.items()}
    else:
        a = np.asarray(data, dtype=np.float64)
        if a.ndim != 2:
            raise SettingError(
                f"data= of shape {a.shape}: give a DataFrame, a dict of columns, "
                "a 2-D array or a file path",
                "data",
            )
        names = list(columns) if isinstance(columns, (list, tuple)) else None
        if names is None:
            if a.shape[1] != 2:
                raise SettingError(
                    f"data= has {a.shape[1]} columns: name them with columns=[...]", "data"
                )
            names = ["x", "y"]
        if len(names) != a.shape[1]:
            raise SettingError(
                f"columns= names {len(names)} columns; the array has {a.shape[1]}", "columns"
            )
        return _named({n: a[:, k] for k, n in enumerate(names)}, None)
    rename = dict(columns) if isinstance(columns, dict) else {}
    for role, given in (("x", x), ("y", y)):
        if given is None:
            continue
        if isinstance(given, str):
            rename[role] = given
        else:
            raise SettingError(
                f"with data=, {role}= names a column of the data (e.g. {role}=\"Size\")", role
            )
    return _named(table, rename)


def _named(table, rename):
    """Columns in the data's order, those named by ``rename`` ({new: old}) under their new
    names and without their old ones."""
    if rename:
        for new, old in rename.items():
            if old not in table:
                raise SettingError(
                    f"the data has no column '{old}' (its columns are {', '.join(table)})",
                    "columns",
                )
        taken = set(rename.values())
        out = {}
        for k, v in table.items():
            for new, old in rename.items():
                if old == k:
                    out[new] = v
            if k not in taken and k not in rename:
                out[k] = v
        table = out
    names = list(table)
    values = [np.ascontiguousarray(_column(k, v), dtype="<f8").tobytes() for k, v in table.items()]
    return names, values
