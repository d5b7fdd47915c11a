"""How the CLI speaks: rich text on a terminal, plain lines when piped, or JSON.

Results go to stdout; notes and errors to stderr, so `--output json` leaves
stdout holding exactly one JSON document.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from draft.errors import DraftError


class Output:
    def __init__(self, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def line(self, text: str = "", style: str | None = None) -> None:
        """A line of the human-readable result (ignored in JSON mode)."""
        if not self.json_mode:
            self.out.print(text, style=style, markup=False)

    def note(self, text: str) -> None:
        if not self.json_mode:
            self.err.print(text, style="dim", markup=False)

    def result(self, data: Any) -> None:
        """The machine-readable result (printed only in JSON mode)."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")

    def error(self, error: DraftError) -> None:
        if self.json_mode:
            self.result({"error": error.message, "hint": error.hint})
            return
        self.err.print(f"Error: {error.message}", style="bold red", markup=False)
        if error.hint:
            self.err.print(error.hint, markup=False)
