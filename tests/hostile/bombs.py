"""Hostile inputs shared by the parser and language-server tests."""

from __future__ import annotations


def billion_laughs(levels: int = 9, fan: int = 9) -> str:
    """The classic alias bomb as YAML: about 1.2 KB standing for fan**levels strings."""
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels):
        refs = ", ".join([f"*lol{level - 1}"] * fan)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


def chart_bomb() -> str:
    return "apiVersion: v2\nname: bomb\nversion: 0.1.0\n" + billion_laughs()
