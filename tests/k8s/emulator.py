"""An HTTP-level Kubernetes API for tests: kmock's emulator, taught what Helm's client needs.

The kubernetes target runs on a real cluster in tests/cluster/; this emulator remains for what a
real cluster cannot show quickly (see tests/k8s/test_kubernetes_target.py): it is
`kmock.KubernetesEmulator`, a stateful in-memory Kubernetes API over real HTTP.
Helm's client asks the server two things kmock does not answer by itself, added here:

- API discovery for the kinds the packs' charts use (namespaces, secrets for Helm's release
  records, services, pods, deployments, ingresses…);
- the OpenAPI v3 documents (`/openapi/v3` and one per group-version), which say that the
  server validates fields itself (`fieldValidation` on PATCH), so Helm skips its client-side
  schema download.

The emulator has no controllers and no kubelet: tests play those parts (set a Deployment's
status, a Pod's container state) and say so.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
from ruamel.yaml import YAML

from draftd.buildkit import wire_fields

# (group/version, plural, kind, namespaced)
RESOURCES = [
    ("v1", "namespaces", "Namespace", False),
    ("v1", "secrets", "Secret", True),
    ("v1", "configmaps", "ConfigMap", True),
    ("v1", "services", "Service", True),
    ("v1", "serviceaccounts", "ServiceAccount", True),
    ("v1", "pods", "Pod", True),
    ("v1", "events", "Event", True),
    ("apps/v1", "deployments", "Deployment", True),
    ("apps/v1", "replicasets", "ReplicaSet", True),
    ("networking.k8s.io/v1", "ingresses", "Ingress", True),
]


def _gvk(group_version: str, kind: str) -> dict[str, str]:
    group, _, version = group_version.rpartition("/")
    return {"group": group, "version": version, "kind": kind}


def _openapi_document(group_version: str) -> dict[str, Any]:
    """One group-version's OpenAPI v3 document: a PATCH per kind that takes fieldValidation."""
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    paths: dict[str, Any] = {}
    for gv, plural, kind, namespaced in RESOURCES:
        if gv != group_version:
            continue
        where = (
            f"{prefix}/namespaces/{{namespace}}/{plural}/{{name}}"
            if namespaced
            else f"{prefix}/{plural}/{{name}}"
        )
        paths[where] = {
            "patch": {
                "x-kubernetes-group-version-kind": _gvk(gv, kind),
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's (field number, value) pairs: draftd's own reader of the wire
    format (`draftd.buildkit.wire_fields`)."""
    return list(wire_fields(data))


def _map_entry(entry: bytes) -> tuple[str, bytes]:
    parts = dict(_fields(entry))
    key, value = parts.get(1, b""), parts.get(2, b"")
    assert isinstance(key, bytes) and isinstance(value, bytes)
    return key.decode(), value


def _secret_from_protobuf(body: bytes) -> dict[str, Any]:
    """Helm stores releases as Secrets and client-go sends core types as protobuf; the emulator
    speaks JSON, so the test decodes the few Secret fields Helm sets."""
    import base64

    unknown = dict(_fields(body.removeprefix(b"k8s\x00")))
    raw = unknown[2]
    assert isinstance(raw, bytes)
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {}, "data": {}}
    for number, value in _fields(raw):
        if number == 1 and isinstance(value, bytes):
            meta = secret["metadata"]
            for field_number, field_value in _fields(value):
                if not isinstance(field_value, bytes):
                    continue
                if field_number in (1, 3):
                    meta["name" if field_number == 1 else "namespace"] = field_value.decode()
                elif field_number == 11:
                    key, label = _map_entry(field_value)
                    meta.setdefault("labels", {})[key] = label.decode()
        elif number == 2 and isinstance(value, bytes):
            key, item = _map_entry(value)
            secret["data"][key] = base64.b64encode(item).decode()
        elif number == 3 and isinstance(value, bytes):
            secret["type"] = value.decode()
    return secret


class _Emulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    """kmock's emulator, taught what Helm 4's client does: protobuf bodies (PUT and POST) for
    Secrets (its release records) and server-side apply (a PATCH that creates what is missing)."""

    async def __call__(self, raw_request: Any) -> Any:
        content_type = raw_request.headers.get("Content-Type", "")
        if content_type.startswith("application/vnd.kubernetes.protobuf"):
            # A PUT replaces an object; kmock knows only PATCH (a merge), which is close enough.
            method = "PATCH" if raw_request.method == "PUT" else raw_request.method
            headers = {**raw_request.headers, "Content-Type": "application/merge-patch+json"}
            if method == "POST":
                headers["Content-Type"] = "application/json"
            raw_request = raw_request.clone(method=method, headers=headers)
            body = await raw_request.read()
            raw_request._read_bytes = json.dumps(_secret_from_protobuf(body)).encode()
        elif raw_request.method == "PATCH" and content_type.startswith("application/apply-patch"):
            if (
                raw_request.path.startswith("/api/v1/namespaces/")
                and raw_request.path.count("/") == 4
            ):
                return await self._apply_namespace(raw_request)
            raw_request = self._server_side_apply(raw_request)
            body = await raw_request.read()
            raw_request._read_bytes = json.dumps(YAML(typ="safe", pure=True).load(body)).encode()
        return await super().__call__(raw_request)

    async def _apply_namespace(self, raw_request: Any) -> Any:
        """kmock cannot parse a create of the cluster-scoped namespaces; store it directly."""
        name = raw_request.path.rsplit("/", 1)[1]
        body = YAML(typ="safe", pure=True).load(await raw_request.read())
        if ("v1/namespaces", None, name) not in self.objects:
            self.objects["v1/namespaces", None, name] = body
        return aiohttp.web.json_response(body, status=200)

    def _server_side_apply(self, raw_request: Any) -> Any:
        """Apply = create when the object is missing, else a merge patch (enough for tests)."""
        *collection, name = raw_request.path.split("/")
        plural = collection[-1]
        namespace = (
            collection[-2] if len(collection) > 3 and collection[-3] == "namespaces" else None
        )
        exists = any(
            key[0].plural == plural and key[1] == namespace and key[2] == name and not obj.deleted
            for key, obj in self.objects.items()
        )
        headers = {
            **raw_request.headers,
            "Content-Type": "application/json" if not exists else "application/merge-patch+json",
        }
        if exists:
            return raw_request.clone(headers=headers)
        return raw_request.clone(method="POST", rel_url="/".join(collection), headers=headers)


@dataclass
class Cluster:
    emulator: kmock.KubernetesEmulator
    url: str
    kubeconfig: Path

    def objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The live objects of a resource ("apps/v1/deployments"), as the API stores them."""
        found = []
        for key, obj in self.emulator.objects.items():
            res, ns, _ = key
            if f"{res.group + '/' if res.group else ''}{res.version}/{res.plural}" != resource:
                continue
            if namespace is not None and ns != namespace:
                continue
            if getattr(obj, "deleted", False):
                continue
            found.append(dict(obj.raw))
        return found


@contextlib.asynccontextmanager
async def kubernetes_api(folder: Path) -> AsyncIterator[Cluster]:
    emulator = _Emulator(strict=False)
    for group_version, plural, kind, namespaced in RESOURCES:
        emulator.resources[f"{group_version}/{plural}"] = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
        )
    index = {"paths": {}}
    for group_version in sorted({gv for gv, *_ in RESOURCES}):
        key = "api/v1" if group_version == "v1" else f"apis/{group_version}"
        index["paths"][key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash=draft"}
        emulator[f"get /openapi/v3/{key}"] << _openapi_document(group_version)
    emulator["get /openapi/v3"] << index
    # The Python client asks for "/version/", with the slash a real API server accepts.
    emulator["get /version/"] << {
        "major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "emulated",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
        "compiler": "gc", "platform": "linux/amd64",
    }  # fmt: skip
    # kmock names the core group-version "/v1"; Kubernetes and client-go say "v1".
    emulator["get /api/v1"] << {
        "apiVersion": "v1",
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": plural,
                "singularName": kind.lower(),
                "kind": kind,
                "namespaced": namespaced,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
            for gv, plural, kind, namespaced in RESOURCES
            if gv == "v1"
        ],
    }
    # Inside its own context the emulator answers a missing object with a Kubernetes 404
    # Status (Helm asks for objects before creating them); not strict, so those 404s are not
    # re-raised at the end.
    async with emulator, kmock.Server(emulator):
        url = str(emulator.url).rstrip("/")
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: emulator, cluster: {{server: '{url}'}}}}]\n"
            "users: [{name: emulator, user: {token: test}}]\n"
            "contexts: [{name: emulator, context: {cluster: emulator, user: emulator, namespace: default}}]\n"
            "current-context: emulator\n"
        )
        yield Cluster(emulator, url, kubeconfig)


def play_controller(cluster: Cluster) -> None:
    """Do what the Deployment controller would: mark every Deployment's replicas available.
    (The emulator has no controllers; the test plays that part.)"""
    for key, obj in list(cluster.emulator.objects.items()):
        if key[0].plural != "deployments" or obj.deleted:
            continue
        replicas = obj.raw.get("spec", {}).get("replicas", 1)
        obj.patch(
            {
                "status": {
                    "observedGeneration": obj.raw.get("metadata", {}).get("generation", 0),
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "availableReplicas": replicas,
                }
            }
        )
