"""The one number formatter and the one JSON converter of symzoo's reports.

Every table (results, symmetry report, tuning summary, orbit study) and every
JSON file goes through `number` and `jsonable`; the callers differ only in the
arguments, so that the files they wrote before stay byte-identical.
"""

import math
import numbers


def number(
    value,
    digits=4,
    sci_below=1e-3,
    sci_above=math.inf,
    sci_digits=2,
    general=False,
    zero=None,
    only_floats=False,
    nonfinite="–",
):
    """A number for a Markdown table.

    Args:
        value: the number; None (and a non-finite float) is shown as "–".
        digits: decimals (``general=False``) or significant digits (``general=True``).
        sci_below, sci_above: a non-zero value with ``|value| < sci_below`` or
            ``|value| >= sci_above`` is written ``f"{value:.{sci_digits}e}"``.
        general: ``:.{digits}g`` instead of ``:.{digits}f``.
        zero: the text of 0 (default: formatted like any other value).
        only_floats: format `float` values only; other values (ints, bools,
            strings, numpy scalars that are not floats) are ``str(value)``.
        nonfinite: the text of a NaN or infinite float; None formats it like
            any other value ("nan", "inf").
    """
    if value is None:
        return "–"
    if only_floats and not isinstance(value, float):
        return str(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if nonfinite is not None and isinstance(value, float) and not math.isfinite(value):
        return nonfinite
    if value == 0 and zero is not None:
        return zero
    if value != 0 and (abs(value) < sci_below or abs(value) >= sci_above):
        return f"{value:.{sci_digits}e}"
    return f"{value:.{digits}{'g' if general else 'f'}}"


def jsonable(value, nonfinite=repr):
    """A plain-JSON copy of `value`: dicts (string keys), lists (tuples too),
    str, bool, None, int, float; numpy scalars and arrays become numbers and
    lists; other objects their ``repr``.

    Args:
        nonfinite: what a NaN or infinite float becomes: ``repr`` (the text
            ``"nan"``/``"inf"``, the default) or None (``nonfinite=None``).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v, nonfinite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, nonfinite) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isfinite(value):
            return value
        return None if nonfinite is None else nonfinite(value)
    if hasattr(value, "tolist"):
        return jsonable(value.tolist(), nonfinite)
    return repr(value)
