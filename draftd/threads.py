"""Callbacks that worker threads may call: the builder's and targets' output, on the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def on_loop(callback: Callable[[T], None]) -> Callable[[T], None]:
    """`callback`, callable from a builder's or target's worker thread too.

    Events touch the event loop's objects, so calls from other threads are
    handed to the loop, in order.
    """
    loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def call(value: T) -> None:
        if threading.get_ident() == owner:
            callback(value)
        else:
            loop.call_soon_threadsafe(callback, value)

    return call
