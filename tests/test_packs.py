"""Every built-in pack: `draft create` on its example app picks it, writes files that work without
edits, and its chart renders valid Kubernetes and lints clean in strict mode through Helm's engine.
(Building each language's image needs its official base image; CI builds python's, through a
local stand-in. The Dockerfiles' shape is checked here.)

The packs share one chart (packs/_chart), filled from each pack.toml; a team's pack that ships
its own `chart/`, as packs did before, is scaffolded with exactly that chart."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from draft import chart, detect, helm, packrepos, packs, scaffold
from draft.errors import PackError

REPO = Path(__file__).resolve().parents[1]
PACKS = sorted(p.name for p in (REPO / "packs").iterdir() if (p / "pack.toml").is_file())
EXPECTED = {
    "python", "node", "go", "java", "gradle", "ruby", "php", "csharp", "rust", "swift",
    "clojure", "erlang", "elixir",
}  # fmt: skip


def test_the_thirteen_packs_are_there() -> None:
    assert set(PACKS) == EXPECTED
    assert all((REPO / "examples" / name).is_dir() for name in PACKS)


def test_the_built_in_packs_share_one_chart() -> None:
    """One copy to keep right: no built-in pack carries a chart of its own."""
    assert packs.shared_chart_dir() == REPO / "packs" / "_chart"
    assert (packs.shared_chart_dir() / "Chart.yaml.j2").is_file()
    assert [name for name in PACKS if (REPO / "packs" / name / "chart").exists()] == []
    assert all(packs.find_pack(name).chart_source == packs.shared_chart_dir() for name in PACKS)


def deployment_of(chart_dir: Path, release: str) -> dict[str, Any]:
    """The app's container, as Helm's engine renders the chart with its default values."""
    manifests = helm.render(chart_dir, {}, release=release, namespace="default")
    rendered = YAML(typ="safe", pure=True).load(manifests["templates/deployment.yaml"])
    container: dict[str, Any] = rendered["spec"]["template"]["spec"]["containers"][0]
    return container


def probe_handler(probes: packs.Probes) -> dict[str, Any]:
    if probes.http_path:
        return {"httpGet": {"path": probes.http_path, "port": "http"}}
    return {"tcpSocket": {"port": "http"}}


@pytest.mark.parametrize("name", PACKS)
def test_dockerfile_uses_pinned_official_images_a_non_root_user_and_the_port(name: str) -> None:
    pack = packs.load_pack(REPO / "packs" / name)
    dockerfile = (pack.path / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert froms, "a Dockerfile needs a base image"
    for image in froms:
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), (
            f"{image} is not pinned"
        )
        assert image in pack.images, f"{image} is missing from pack.toml's images"
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users, "the app must not run as root"
    assert users[-1] == str(pack.user), (
        "a numeric USER, pack.toml's user: the kubelet refuses a named one under runAsNonRoot"
    )
    assert re.findall(r"^EXPOSE\s+(\d+)", dockerfile, re.MULTILINE)[-1] == str(pack.port)
    if len(froms) > 1:
        assert " AS " in dockerfile, "a multi-stage build names its stages"
    ignored = (pack.path / ".dockerignore").read_text().splitlines()
    assert "chart/" in ignored and "draft.toml" in ignored, "deploy files must not change the image"


@pytest.mark.parametrize("name", PACKS)
def test_create_on_the_example_detects_the_pack_and_the_chart_is_valid(
    name: str, tmp_path: Path
) -> None:
    app = tmp_path / name
    shutil.copytree(REPO / "examples" / name, app)
    detection = detect.best(app)
    assert detection.pack.name == name, detection
    result = scaffold.create(app, detection.pack, f"{name}-app")
    assert {"Dockerfile", ".dockerignore", "draft.toml", "chart/Chart.yaml"} <= {
        str(p) for p in result.written
    }

    chart_dir = app / "chart"
    assert chart.check_values(chart_dir, release=f"{name}-app", namespace="default") == []
    findings = [f for f in helm.lint(chart_dir) if f.severity <= 2]
    assert findings == [], findings
    manifests = helm.render(chart_dir, {}, release=f"{name}-app", namespace="default")
    deployment = manifests["templates/deployment.yaml"]
    assert f"containerPort: {detection.pack.port}" in deployment
    assert "readinessProbe" in deployment and "livenessProbe" in deployment
    assert_carries_the_pack(chart_dir, detection.pack, f"{name}-app")


RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def pod_of(chart_dir: Path, release: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    manifests = helm.render(chart_dir, values or {}, release=release, namespace="default")
    rendered = YAML(typ="safe", pure=True).load(manifests["templates/deployment.yaml"])
    pod: dict[str, Any] = rendered["spec"]["template"]["spec"]
    return pod


def assert_restricted(pod: dict[str, Any], user: packs.RunAs) -> None:
    """What the Kubernetes "restricted" Pod Security level asks of a pod, and a numeric user
    the kubelet can check is not root."""
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": user.uid,
        "runAsGroup": user.gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for container in pod["containers"]:
        assert container["securityContext"] == RESTRICTED_CONTAINER


def assert_carries_the_pack(chart_dir: Path, pack: packs.Pack, release: str) -> None:
    """The rendered Deployment has pack.toml's port, probes, resources and user."""
    container = deployment_of(chart_dir, release)
    assert_restricted(pod_of(chart_dir, release), pack.user)
    assert container["ports"] == [{"name": "http", "containerPort": pack.port, "protocol": "TCP"}]
    assert {"name": "PORT", "value": str(pack.port)} in container["env"]
    readiness = container["readinessProbe"]
    assert {k: v for k, v in readiness.items() if k in ("httpGet", "tcpSocket")} == probe_handler(
        pack.probes
    )
    assert readiness["initialDelaySeconds"] == pack.probes.initial_delay_seconds
    assert readiness["periodSeconds"] == pack.probes.period_seconds
    if pack.probes.startup_seconds:
        startup = container["startupProbe"]
        assert startup["tcpSocket"] == {"port": "http"}, "started: the app listens on its port"
        assert startup["periodSeconds"] * startup["failureThreshold"] == pack.probes.startup_seconds
    else:
        assert "startupProbe" not in container, "a fast starter is ready as soon as it listens"
    liveness = container["livenessProbe"]
    assert liveness["tcpSocket"] == {"port": "http"}, "alive: never the readiness path"
    assert liveness["periodSeconds"] > readiness["periodSeconds"]
    assert {k: {n: str(a) for n, a in v.items()} for k, v in container["resources"].items()} == {
        k: dict(v) for k, v in pack.resources.items()
    }


TEAM_PACK_TOML = """name = "flask"
description = "Our Flask apps"
port = 5000
images = ["python:3.12-slim"]

[detect]
files = ["requirements.txt"]
"""


def team_pack(folder: Path, toml: str = TEAM_PACK_TOML) -> Path:
    """A team's pack as a pack repository holds it: python's Dockerfile, its own pack.toml."""
    folder.mkdir(parents=True)
    shutil.copy(REPO / "packs" / "python" / "Dockerfile", folder / "Dockerfile")
    shutil.copy(REPO / "packs" / "python" / ".dockerignore", folder / ".dockerignore")
    (folder / "pack.toml").write_text(toml)
    return folder


def test_a_team_pack_gets_the_shared_chart_filled_from_its_pack_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = (
        TEAM_PACK_TOML
        + """
[probes]
http_path = "/healthz"
period_seconds = 5

[resources]
requests = { cpu = "250m", memory = "256Mi" }
limits = { memory = "1Gi" }
"""
    )
    team_pack(tmp_path / "team" / "flask", toml)
    monkeypatch.setenv(packs.PACKS_PATH_ENV, str(tmp_path / "team"))
    pack = packs.find_pack("flask")
    assert pack.probes == packs.Probes(http_path="/healthz", period_seconds=5)
    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    scaffold.create(app, pack, "team-app")

    assert chart.check_values(app / "chart", release="team-app", namespace="default") == []
    assert_carries_the_pack(app / "chart", pack, "team-app")
    container = deployment_of(app / "chart", "team-app")
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"] == {"memory": "1Gi"}


def original_layout_chart(folder: Path) -> None:
    """A team's own chart, in the layout packs had before the shared chart: `{{ port }}` and
    `{{ app_name }}` filled by Draft in `.j2` files, the rest Helm's."""
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml.j2").write_text(
        "apiVersion: v2\nname: {{ app_name }}\nversion: 0.1.0\ntype: application\n"
    )
    (folder / "values.yaml.j2").write_text(
        "image:\n  repository: {{ app_name }}\n  tag: latest\nport: {{ port }}\nteam: ours\n"
    )
    (folder / "templates" / "deployment.yaml").write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {team: {{ .Values.team }}}
spec:
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - containerPort: {{ .Values.port }}
"""
    )


@pytest.mark.parametrize("found_through", ["DRAFT_PACKS_PATH", "pack-repo"])
def test_a_team_pack_with_its_own_chart_keeps_it(
    found_through: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "team-packs"
    pack_dir = team_pack(repo / "packs" / "flask")
    original_layout_chart(pack_dir / "chart")
    monkeypatch.setenv("DRAFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(packs.PACKS_PATH_ENV, raising=False)
    if found_through == "DRAFT_PACKS_PATH":
        monkeypatch.setenv(packs.PACKS_PATH_ENV, str(repo / "packs"))
    else:
        packrepos.add(str(repo), name="team")
    pack = packs.find_pack("flask")
    assert pack.own_chart and pack.chart_source == pack_dir / "chart"

    app = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "python", app)
    result = scaffold.create(app, pack, "team-app")
    chart_files = sorted(str(p) for p in result.written if p.parts[0] == "chart")
    assert chart_files == [
        "chart/Chart.yaml",
        "chart/templates/deployment.yaml",
        "chart/values.yaml",
    ]
    assert (app / "chart" / "values.yaml").read_text().endswith("port: 5000\nteam: ours\n")
    assert (app / "chart" / "templates" / "deployment.yaml").read_text() == (
        pack_dir / "chart" / "templates" / "deployment.yaml"
    ).read_text()
    manifests = helm.render(app / "chart", {}, release="team-app", namespace="default")
    assert "containerPort: 5000" in manifests["templates/deployment.yaml"]
    assert "team: ours" in manifests["templates/deployment.yaml"]


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('[probes]\nhttp_path = "healthz"\n', "start with '/'"),
        ("[probes]\nperiod_seconds = 0\n", "period_seconds"),
        ("[probes]\ntimeout = 3\n", "'timeout'"),
        ('[resources]\nrequests = { memory = "lots" }\n', "resources.requests.memory"),
        ('[resources]\nwanted = { memory = "1Gi" }\n', "requests and limits"),
    ],
)
def test_a_wrong_probes_or_resources_table_is_one_clear_error(
    table: str, said: str, tmp_path: Path
) -> None:
    folder = team_pack(tmp_path / "flask", TEAM_PACK_TOML + table)
    with pytest.raises(PackError) as error:
        packs.load_pack(folder, source=str(tmp_path))
    assert said in str(error.value) and "pack.toml" in str(error.value)


@pytest.mark.parametrize(
    ("user", "said"),
    [('"node"', "numeric"), ('"0:0"', "root"), ('"1000:0"', "root"), ("1000", "numeric")],
)
def test_a_named_or_root_user_in_pack_toml_is_one_clear_error(
    user: str, said: str, tmp_path: Path
) -> None:
    toml = TEAM_PACK_TOML.replace("[detect]", f"user = {user}\n\n[detect]")
    folder = team_pack(tmp_path / "flask", toml)
    with pytest.raises(PackError) as error:
        packs.load_pack(folder, source=str(tmp_path))
    assert said in str(error.value) and "pack.toml" in str(error.value)


def test_the_user_comes_from_pack_toml_and_a_chart_value_can_change_it(tmp_path: Path) -> None:
    """node's image runs as the official image's `node` user, uid 1000: the chart runs the pod
    as that number; a team that changes its Dockerfile's USER sets the chart value with it."""
    app = tmp_path / "node"
    shutil.copytree(REPO / "examples" / "node", app)
    pack = packs.find_pack("node")
    assert pack.user == packs.RunAs(1000, 1000)
    scaffold.create(app, pack, "node-app")
    assert_restricted(pod_of(app / "chart", "node-app"), packs.RunAs(1000, 1000))
    values = {"securityContext": {"runAsUser": 2000, "runAsGroup": 3000}}
    assert_restricted(pod_of(app / "chart", "node-app", values), packs.RunAs(2000, 3000))

    (app / "chart" / "values.yaml").write_text(
        (app / "chart" / "values.yaml").read_text().replace("runAsUser: 1000", "runAsUser: 0")
    )
    problems = chart.check_values(app / "chart", release="node-app", namespace="default")
    assert problems and "runAsUser" in str(problems[0]), problems


@pytest.mark.parametrize("name", PACKS)
def test_the_app_listens_on_the_port_the_chart_sets(name: str) -> None:
    """The chart sets PORT; no pack bakes its port into the server's own settings (csharp's
    ASPNETCORE_HTTP_PORTS, php's Apache Listen), so changing containerPort moves the app."""
    pack = packs.find_pack(name)
    dockerfile = (pack.path / "Dockerfile").read_text()
    assert re.search(rf"\bPORT={pack.port}\b", dockerfile), "PORT's default"
    assert not re.search(
        rf"(Listen|HTTP_PORTS=|:){pack.port}\b(?!/)", dockerfile.split("\nFROM")[-1]
    )
    if name == "csharp":
        assert 'ASPNETCORE_HTTP_PORTS=\\"$PORT\\"' in dockerfile
    if name == "php":
        assert "Listen ${PORT}" in dockerfile and "<VirtualHost *:${PORT}>" in dockerfile
