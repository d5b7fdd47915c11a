"""Every pack's chart passes the Kubernetes "restricted" Pod Security level, enforced by the
real cluster: in a namespace labelled to enforce it, the API server refuses a pod that falls
short, and the python example still deploys, serves, and takes a code save synced into its pod
(the sync image keeps the image's numeric user, which the chart runs the pod as)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cluster_kit import Cluster
from kit import Draftd, fetch, scaffold, set_greeting, up_events
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

pytestmark = [pytest.mark.cluster, pytest.mark.docker]


def test_the_namespace_really_refuses_a_pod_short_of_restricted(
    cluster: Cluster, restricted_namespace: str
) -> None:
    """What the label means on this cluster: a plain pod (no seccomp profile, capabilities
    kept, root allowed) is refused at admission, naming what is missing."""
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="plain"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="app", image="python:3.12-slim")]),
    )
    with pytest.raises(ApiException) as refused:
        cluster.core.create_namespaced_pod(restricted_namespace, pod)
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message, message
    assert "seccompProfile" in message and "capabilities" in message, message


def test_the_python_example_serves_and_syncs_under_restricted_pod_security(
    tmp_path: Path, cluster: Cluster, cluster_draftd: Draftd, restricted_namespace: str,
    registry: str,
) -> None:  # fmt: skip
    app = scaffold(
        tmp_path / "app", "strict", namespace=restricted_namespace, registry=registry,
        target="kubernetes",
    )  # fmt: skip
    first = up_events(cluster_draftd, app)
    url = first[-1]["url"]
    assert fetch(url) == "Hello World!"
    pod = cluster.ready_pod(restricted_namespace, "strict")
    assert pod is not None
    context = pod.spec.security_context
    assert (context.run_as_non_root, context.run_as_user, context.run_as_group) == (
        True, 10001, 10001,
    )  # fmt: skip
    assert context.seccomp_profile.type == "RuntimeDefault"
    container = pod.spec.containers[0].security_context
    assert container.capabilities.drop == ["ALL"] and container.allow_privilege_escalation is False
    assert cluster.exec(restricted_namespace, pod.metadata.name, ["id", "-u"]).strip() == "10001"

    set_greeting(app, "Synced under restricted")
    second = up_events(cluster_draftd, app)
    assert "syncing app.py into the running app" in "\n".join(e.get("message", "") for e in second)
    assert fetch(second[-1]["url"]) == "Synced under restricted"
