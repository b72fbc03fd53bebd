"""Argument types shared by the command lines (`symzoo.cli` and the modules
that own a subcommand), so that no library module imports `symzoo.cli`."""

import argparse
import ast


def parse_assignment(text):
    """``"key=value"`` → ``(key, value)`` with `value` a Python literal.

    Values that are not Python literals are kept as strings, so
    ``activation=relu`` gives ``"relu"``; ``offsets=(8,4)`` gives ``(8, 4)``.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE with KEY a Python identifier, got {text!r}"
        )
    raw = raw.strip()
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
    return key, value


def parse_sharing_schedule(text):
    """``"0:10,2:30"`` → ``[[0, 10.0], [2, 30.0]]``: the sharing strength λ from
    each 0-based epoch on (`symzoo.training.check_sharing_schedule`)."""
    from symzoo import training

    pairs = []
    for item in text.split(","):
        epoch, sep, strength = item.partition(":")
        try:
            if not sep:
                raise ValueError
            pairs.append((int(epoch), float(strength)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected EPOCH:STRENGTH[,EPOCH:STRENGTH...], e.g. 0:10,2:30, got {text!r}"
            ) from None
    try:
        return training.check_sharing_schedule(pairs)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
