"""Which build failures are the network's: the registry named, what to do said; the app's own
failures still say to fix the app. Real output shapes of the legacy builder and of each
package manager (hosts made up: `.invalid` can never resolve)."""

from __future__ import annotations

import pytest

from draftd.build_failures import FIX_THE_APP, explain, strip_escapes


@pytest.mark.parametrize(
    ("recent", "host"),
    [
        (["Could not reach host gems.example.invalid. Check your network connection and try again."], "gems.example.invalid"),
        (["npm error code ENOTFOUND", "npm error network request to https://npm.example.invalid/left-pad failed, reason: getaddrinfo ENOTFOUND npm.example.invalid"], "npm.example.invalid"),
        (["WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(\"Failed to establish a new connection: [Errno -2] Name or service not known\")': /simple/flask/", "Looking in indexes: https://pypi.example.invalid/simple"], "pypi.example.invalid"),
        (["[ERROR] No plugin found for prefix 'dependency' in the current project and in the plugin groups [org.apache.maven.plugins] available from the repositories [central (https://maven.example.invalid/maven2)]"], "maven.example.invalid"),
        (["Err:1 http://debian.example.invalid/debian bookworm InRelease", "  Temporary failure resolving 'debian.example.invalid'"], "debian.example.invalid"),
    ],
)  # fmt: skip
def test_a_package_registry_out_of_reach_is_named(recent: list[str], host: str) -> None:
    message, hint = explain(
        "Step 5/9 : RUN install-deps", "The command '/bin/sh -c install-deps' returned 1", recent
    )
    assert message.startswith("Step 5/9 : RUN install-deps failed: ")
    assert f"a package registry ({host}) could not be reached" in message
    assert "not the app" in hint and host in hint and hint != FIX_THE_APP


def test_a_base_image_out_of_reach_is_named() -> None:
    message, hint = explain(
        "Step 1/9 : FROM images.example.invalid/lang:1.2 AS build",
        'Get "https://images.example.invalid/v2/": dial tcp: lookup images.example.invalid: '
        "no such host",
        [],
    )
    assert "the base image images.example.invalid/lang:1.2 is not on this Docker engine" in message
    assert "its registry (images.example.invalid) cannot be reached" in message
    assert "docker load" in hint and "change FROM" in hint


def test_the_apps_own_failure_still_says_fix_the_app() -> None:
    message, hint = explain(
        "Step 4/5 : RUN python -m compileall .",
        "The command '/bin/sh -c python -m compileall .' returned a non-zero code: 1",
        ["SyntaxError: invalid syntax"],
    )
    assert hint == FIX_THE_APP and "registry" not in message


def test_colour_escapes_are_stripped() -> None:
    assert strip_escapes("\x1b[91mWARNING: x\n\x1b[0m") == "WARNING: x\n"
