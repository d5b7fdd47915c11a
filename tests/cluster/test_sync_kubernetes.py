"""Saves synced into the running pod on the real cluster: the same rules as on docker (files
the Dockerfile's final stage copies after its last RUN), copied through the Kubernetes API's
exec and restarted in place by the restart wrapper: no image build, no push, no Helm upgrade,
the same pod. A dependency change builds and says why; a pod that was replaced takes the next
save as a build, so nothing synced before is lost; an image without tar builds, saying why."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cluster_kit import Cluster
from kit import Draftd, fetch, messages, phases, scaffold, set_greeting, up_events, warm_app
from waiting import until

pytestmark = [pytest.mark.cluster, pytest.mark.docker]


def app_on_cluster(tmp_path: Path, name: str, namespace: str, registry: str) -> Path:
    return scaffold(
        tmp_path / "app", name, namespace=namespace, registry=registry, target="kubernetes"
    )


def test_a_code_save_is_synced_into_the_same_pod_without_a_build_or_upgrade(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = app_on_cluster(tmp_path, "podsync", namespace, registry)
    first = up_events(cluster_draftd, app)
    url = first[-1]["url"]
    pod = cluster.ready_pod(namespace, "podsync")
    assert pod is not None
    releases = cluster.release_revisions(namespace, "podsync")

    set_greeting(app, "Synced into the pod")
    second = up_events(cluster_draftd, app)

    assert "building" not in phases(second) and "pushing" not in phases(second), messages(second)
    assert "syncing app.py into the running app" in messages(second)
    assert second[-1]["url"] == url, "the same URL"
    assert fetch(url) == "Synced into the pod"
    now = cluster.ready_pod(namespace, "podsync")
    assert now is not None and now.metadata.name == pod.metadata.name, "the same pod serves it"
    assert cluster.release_revisions(namespace, "podsync") == releases, "no Helm upgrade"


def test_a_synced_save_restarts_python_in_the_pod_with_its_libraries_already_imported(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = app_on_cluster(tmp_path, "podwarm", namespace, registry)
    warm_app(app)
    url = up_events(cluster_draftd, app)[-1]["url"]
    assert fetch(url) == "first warm=False", "the first start imports Flask itself"
    pod = cluster.ready_pod(namespace, "podwarm")
    assert pod is not None

    def pythons() -> list[str]:
        listing = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"
        lines = cluster.exec(namespace, pod.metadata.name, ["/bin/sh", "-c", listing])
        return [line for line in lines.splitlines() if line.strip() == "python app.py"]

    until(lambda: len(pythons()) == 2, 30, lambda: f"no spare beside the app: {pythons()}")
    (app / "greeting.py").write_text('TEXT = "second"\n')
    events = up_events(cluster_draftd, app)

    assert "building" not in phases(events), messages(events)
    assert fetch(url) == "second warm=True", "the spare imported Flask; the app's module is new"


def test_saves_into_a_pod_go_through_one_shell_kept_open_there(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    """One exec for the first synced save, then its shell takes the next saves (an exec a
    save costs ≈ 0.1 s: a websocket to the API server, a stream to the kubelet, a process)."""
    app = app_on_cluster(tmp_path, "podchannel", namespace, registry)
    url = up_events(cluster_draftd, app)[-1]["url"]
    pod = cluster.ready_pod(namespace, "podchannel")
    assert pod is not None

    def shells() -> list[str]:
        listing = "for p in /proc/[0-9]*; do echo ${p#/proc/} $(tr '\\0' ' ' < $p/cmdline); done"
        lines = cluster.exec(namespace, pod.metadata.name, ["/bin/sh", "-c", listing])
        return [line.split()[0] for line in lines.splitlines() if "@draft-synced" in line]

    seen = []
    for text in ("First save", "Second save", "Third save"):
        set_greeting(app, text)
        events = up_events(cluster_draftd, app)
        assert "building" not in phases(events), messages(events)
        assert fetch(url) == text
        seen.append(shells())
    assert len(seen[0]) == 1 and seen == [seen[0]] * 3, f"one shell for every save: {seen}"


def test_an_app_restarted_cold_syncs_save_after_save(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    """A cold restart (an app that is not Python; here DRAFT_WARM=0) ends every process of the
    app's user, the shell that took the save too: each save still syncs."""
    app = app_on_cluster(tmp_path, "coldsync", namespace, registry)
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("WORKDIR /app", "ENV DRAFT_WARM=0\nWORKDIR /app")
    )
    url = up_events(cluster_draftd, app)[-1]["url"]
    for text in ("Cold, first", "Cold, second", "Cold, third"):
        set_greeting(app, text)
        events = up_events(cluster_draftd, app)
        assert "syncing app.py into the running app" in messages(events), messages(events)
        assert fetch(url) == text


def test_a_connection_open_to_the_app_ends_when_a_synced_save_restarts_it(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    """A browser's connection through Draft's URL to the app a save restarts: it ends with the
    app, before the new code answers, rather than hang on a stream the API server only
    notices later (a refresh at that moment waited a second for nothing)."""
    app = app_on_cluster(tmp_path, "podconn", namespace, registry)
    url = up_events(cluster_draftd, app)[-1]["url"]
    host, _, port = url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as browser:
        browser.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # headers not yet ended
        set_greeting(app, "Restarted under an open connection")
        events = up_events(cluster_draftd, app)
        assert "syncing app.py into the running app" in messages(events)
        assert fetch(url) == "Restarted under an open connection"
        browser.setblocking(False)
        try:
            ended = browser.recv(1) == b""
        except ConnectionResetError:
            ended = True
        except BlockingIOError:
            ended = False
        assert ended, "the connection to the restarted app was left open"
        with socket.create_connection((host, int(port)), timeout=10) as idle:
            idle.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # open as draftd stops
            cluster_draftd.stop()
    log = (cluster_draftd.state.parent / "draftd.log").read_text()
    assert "Traceback" not in log, "draftd stopped with a connection open, quietly"


def test_a_dependency_change_builds_and_says_why(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = app_on_cluster(tmp_path, "poddeps", namespace, registry)
    up_events(cluster_draftd, app)
    requirements = app / "requirements.txt"
    requirements.write_text(requirements.read_text() + "# pinned later\n")
    set_greeting(app, "Rebuilt for new requirements")
    events = up_events(cluster_draftd, app)
    assert "building" in phases(events)
    assert "requirements.txt changed, and the Dockerfile runs a build step" in messages(events)
    assert fetch(events[-1]["url"]) == "Rebuilt for new requirements"


def test_a_replaced_pod_loses_nothing_that_was_synced(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    """A pod restarted from its image no longer holds the synced files: the next save builds,
    and the image it builds holds every file saved so far."""
    app = app_on_cluster(tmp_path, "podgone", namespace, registry)
    up_events(cluster_draftd, app)
    set_greeting(app, "Synced before the pod went away")
    synced = up_events(cluster_draftd, app)
    assert "building" not in phases(synced)

    cluster.replace_pod(namespace, "podgone")
    (app / "notes.txt").write_text("another file saved later\n")
    events = up_events(cluster_draftd, app)
    assert "building" in phases(events), "the new pod holds its image's files: build"
    assert "the app's container was stopped or replaced" in messages(events)
    assert fetch(events[-1]["url"]) == "Synced before the pod went away"


def test_an_image_without_tar_builds_every_save_and_says_why(
    tmp_path: Path, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    app = app_on_cluster(tmp_path, "notar", namespace, registry)
    dockerfile = app / "Dockerfile"
    text = dockerfile.read_text()
    dockerfile.write_text(
        text.replace("USER 10001:10001", "RUN rm -f /bin/tar /usr/bin/tar\nUSER 10001:10001", 1)
    )
    first = up_events(cluster_draftd, app)
    assert "no tar" in messages(first)
    set_greeting(app, "Built, since there is no tar")
    events = up_events(cluster_draftd, app)
    assert "building" in phases(events)
    assert fetch(events[-1]["url"]) == "Built, since there is no tar"
