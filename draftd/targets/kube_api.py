"""The few Kubernetes API calls draftd makes, through the client library's own `ApiClient`.

The kubernetes package's generated `CoreV1Api` has some 1,200 methods, each parameter of each
described by a pydantic `Field` built when the class loads: loading it costs draftd ≈ 22 MB,
and `AppsV1Api` ≈ 4 MB more, resident for as long as draftd runs, to call eight of them. These
classes make the same requests the same way — `ApiClient.param_serialize` for the URL, query
and authentication, `_call_with_legacy_options` to send it and decode the answer into the
library's models — and `kubernetes.stream`'s exec and port-forward take their bound methods as
they take the generated ones. Each method has the generated one's name and the keywords
draftd passes; what it returns is the same model (`V1PodList`, `V1Pod`, …).

`_call_with_legacy_options` is the `ApiClient` method every generated method ends in, not a
documented one: pyproject.toml pins the package, and tests/cluster/ makes each of these calls
against a real cluster, so a new version that changes it fails there first.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

Query = list[tuple[str, Any]]


class _Api:
    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client = api_client
        """`kubernetes.stream` reaches the client through this attribute, as on generated APIs."""

    def _call(
        self,
        path: str,
        path_params: dict[str, str],
        query: Query,
        returns: str,
        *,
        accept: str = "application/json",
        preload: bool = True,
        timeout: Any = None,
        collection_formats: dict[str, str] | None = None,
    ) -> Any:
        request = self.api_client.param_serialize(
            method="GET",
            resource_path=path,
            path_params=path_params,
            query_params=[(name, value) for name, value in query if value is not None],
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
            collection_formats=collection_formats or {},
        )
        return self.api_client._call_with_legacy_options(  # the generated methods' own call
            request, {"200": returns}, None, preload, timeout, True
        )


class CoreApi(_Api):
    """`CoreV1Api`'s methods draftd calls."""

    def _pods(self, name: str, namespace: str, query: Query, returns: str, **how: Any) -> Any:
        """GET /api/v1/namespaces/{namespace}/pods, or `name` (`pod` or `pod/subresource`)."""
        path = "/api/v1/namespaces/{namespace}/pods" + (f"/{name}" if name else "")
        return self._call(path, {"namespace": namespace}, query, returns, **how)

    def list_namespaced_pod(
        self, namespace: str, label_selector: str | None = None, _request_timeout: Any = None
    ) -> Any:
        query = [("labelSelector", label_selector)]
        return self._pods("", namespace, query, "V1PodList", timeout=_request_timeout)

    def read_namespaced_pod(self, name: str, namespace: str, _request_timeout: Any = None) -> Any:
        return self._pods(name, namespace, [], "V1Pod", timeout=_request_timeout)

    def list_namespaced_event(
        self, namespace: str, field_selector: str | None = None, _request_timeout: Any = None
    ) -> Any:
        path = "/api/v1/namespaces/{namespace}/events"
        query = [("fieldSelector", field_selector)]
        return self._call(
            path, {"namespace": namespace}, query, "CoreV1EventList", timeout=_request_timeout
        )

    def read_namespaced_pod_log(
        self,
        name: str,
        namespace: str,
        follow: bool | None = None,
        tail_lines: int | None = None,
        previous: bool | None = None,
        _preload_content: bool = True,
        _request_timeout: Any = None,
    ) -> Any:
        query = [("follow", follow), ("tailLines", tail_lines), ("previous", previous)]
        # JSON accepted, as the generated method asks (text/plain is refused); text comes back.
        return self._pods(
            f"{name}/log", namespace, query, "str",
            preload=_preload_content, timeout=_request_timeout,
        )  # fmt: skip

    def connect_get_namespaced_pod_exec(
        self,
        name: str,
        namespace: str,
        command: list[str] | None = None,
        container: str | None = None,
        stderr: bool | None = None,
        stdin: bool | None = None,
        stdout: bool | None = None,
        tty: bool | None = None,
        _preload_content: bool = True,
        _request_timeout: Any = None,
    ) -> Any:
        query = [("command", command), ("container", container), ("stderr", stderr)]
        query += [("stdin", stdin), ("stdout", stdout), ("tty", tty)]
        return self._pods(
            f"{name}/exec", namespace, query, "str", accept="*/*",
            preload=_preload_content, timeout=_request_timeout,
            collection_formats={"command": "multi"},
        )  # fmt: skip

    def connect_get_namespaced_pod_portforward(
        self,
        name: str,
        namespace: str,
        ports: str | None = None,
        _preload_content: bool = True,
        _request_timeout: Any = None,
    ) -> Any:
        return self._pods(
            f"{name}/portforward", namespace, [("ports", ports)], "str", accept="*/*",
            preload=_preload_content, timeout=_request_timeout,
        )  # fmt: skip


class AppsApi(_Api):
    """`AppsV1Api`'s method draftd calls."""

    def list_namespaced_deployment(
        self, namespace: str, label_selector: str | None = None, _request_timeout: Any = None
    ) -> Any:
        path = "/apis/apps/v1/namespaces/{namespace}/deployments"
        query = [("labelSelector", label_selector)]
        return self._call(
            path, {"namespace": namespace}, query, "V1DeploymentList", timeout=_request_timeout
        )
