"""`draft connect` on the real cluster keeps one local port for the app, whatever happens to
its pods: a client polling that URL through a redeploy and through `kubectl delete pod` sees
the app answer again on the same port (no new URL to copy, as Skaffold's and Tilt's users ask),
and `draft up` prints that same URL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cluster_kit import Cluster
from kit import Draftd, fetch, read_line, scaffold, set_greeting, stop, wait_for_text
from waiting import until

pytestmark = [pytest.mark.cluster, pytest.mark.docker]


class Poller:
    """Fetches a URL in a loop, as a browser tab left open would, and remembers the answers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[str | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.answers.append(fetch(self.url))
            self._stop.wait(0.2)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_the_url_stays_the_same_across_redeploys_and_pod_restarts(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    # sync = false: the redeploy is a rollout to a new pod, which the forward must follow
    # (a synced save keeps the pod; tests/cluster/test_sync_kubernetes.py covers that).
    app = scaffold(
        tmp_path / "app", "steady", namespace=namespace, registry=registry, target="kubernetes",
        sync=False,
    )  # fmt: skip
    first = cluster_draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert first.returncode == 0, first.stderr
    url = cluster_draftd.draft("connect", str(app)).stdout.strip()
    assert url in first.stdout, "`draft up` prints the URL `draft connect` gives"
    assert fetch(url) == "Hello World!"

    with Poller(url) as poller:
        set_greeting(app, "Hello again!")
        again = cluster_draftd.draft("up", str(app), "--no-watch", timeout=600)
        assert again.returncode == 0, again.stderr
        assert url in again.stdout, "a redeploy keeps the URL"
        wait_for_text(url, "Hello again!", timeout=60)

        cluster.replace_pod(namespace, "steady")
        wait_for_text(url, "Hello again!", timeout=60)
        settled = len(poller.answers)
        until(lambda: len(poller.answers) >= settled + 3, 10, "more answers from the new pod")
    assert cluster_draftd.draft("connect", str(app)).stdout.strip() == url
    assert "Hello again!" in poller.answers[settled:], poller.answers[-10:]


def test_a_redeploy_is_served_once_the_new_pod_answers_before_it_counts_as_ready(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    """The readiness probe waits 8 s before its first look: the new text is served through
    Draft's URL as soon as the new pod's app answers, while Kubernetes (and so the Service)
    still counts only the old pod ready; `draft up` ends when the rollout does."""
    app = scaffold(
        tmp_path / "app", "eager", namespace=namespace, registry=registry, target="kubernetes",
        sync=False, set=["probes.initialDelaySeconds=8"],
    )  # fmt: skip
    first = cluster_draftd.draft("up", str(app), "--no-watch", timeout=600)
    assert first.returncode == 0, first.stderr
    url = cluster_draftd.draft("connect", str(app)).stdout.strip()
    assert fetch(url) == "Hello World!"

    set_greeting(app, "Hello early!")
    again = cluster_draftd.draft_background("up", str(app), "--no-watch")
    try:
        wait_for_text(url, "Hello early!", timeout=120)
        newest = cluster.pods(namespace, "eager")[-1]
        statuses = newest.status.container_statuses or []
        assert not (statuses and all(s.ready for s in statuses)), "served only once ready"
        assert again.poll() is None, "`draft up` ended before the rollout did"
    finally:
        out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert url in out
    assert cluster.ready_pod(namespace, "eager").metadata.name == newest.metadata.name
    assert fetch(url) == "Hello early!"


def test_a_save_during_a_rollout_is_served_without_waiting_for_that_rollout_to_end(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, namespace: str, registry: str
) -> None:
    """Under `draft up --watch`, a second save while the first one's pod is not yet ready
    (its readiness probe waits 8 s) is built, deployed and served without waiting for the
    first rollout to end: the second rollout replaces it anyway."""
    app = scaffold(
        tmp_path / "app", "hasty", namespace=namespace, registry=registry, target="kubernetes",
        sync=False, watch_delay=0.1, set=["probes.initialDelaySeconds=8"],
    )  # fmt: skip
    watching = cluster_draftd.draft_background("up", str(app), "--watch")
    try:
        url = read_line(watching.stdout, timeout=300).strip()
        wait_for_text(url, "Hello World!", timeout=60)

        set_greeting(app, "First save")
        wait_for_text(url, "First save", timeout=120)
        first = cluster.pods(namespace, "hasty")[-1]
        set_greeting(app, "Second save")
        wait_for_text(url, "Second save", timeout=120)
        # Waiting for the first rollout would have meant waiting for its pod to be ready;
        # not waiting, Kubernetes replaces that pod (never ready) by the second one.
        pods = {pod.metadata.name: pod for pod in cluster.pods(namespace, "hasty")}
        now = pods.get(first.metadata.name)
        statuses = (now.status.container_statuses or []) if now is not None else []
        assert not (statuses and all(s.ready for s in statuses)), (
            "the second save waited for the first save's rollout"
        )
    finally:
        _, err = stop(watching)
    assert "Traceback" not in err, err[-3000:]
