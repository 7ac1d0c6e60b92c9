"""docker-compose.yml, .env.example and the env generator, checked without a Docker engine.

The compose file is validated against the Compose Specification's JSON schema (vendored in
tests/resources from the docker-compose 1.29.2 wheel on PyPI, Apache-2.0), and by Debian's
`docker-compose config` where that is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev lock
import pytest
import yaml

from dxpulse.dashboards import build
from tests.envfile import read_env

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
GEN_ENV = ROOT / "deploy" / "gen-env.sh"
SCHEMA = Path(__file__).resolve().parents[1] / "resources" / "compose_spec.json"
DXPULSE_IMAGE = "dxpulse:local"
# What a plain `docker compose up` starts: the services without a profile.
SINGLE_NODE = {"kafka", "clickhouse", "grafana", "init", "worker", "producer"}
# The `cluster` profile (tests/unit_tests/test_compose_cluster.py checks how it fits together).
CLUSTER = {
    "kafka-1", "kafka-2", "kafka-3", "keeper-1", "keeper-2", "keeper-3",
    "ch-s1-r1", "ch-s1-r2", "ch-s2-r1", "ch-s2-r2",
    "cluster-init", "cluster-worker", "cluster-producer", "cluster-grafana",
}  # fmt: skip
# Secrets in .env: empty in .env.example, random from deploy/gen-env.sh, required by compose.
SECRET_SUFFIXES = ("PASSWORD", "SECRET")


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text("utf-8"))  # resolves the x-dxpulse merge keys
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def env_example() -> dict[str, str]:
    return read_env(ENV_EXAMPLE)


def generated_env(tmp_path: Path) -> Path:
    out = tmp_path / ".env"
    done = subprocess.run([str(GEN_ENV)], capture_output=True, text=True, check=True)
    out.write_text(done.stdout, "utf-8")
    return out


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    validator_class = jsonschema.Draft201909Validator  # the schema says 2019-09
    errors = [f"{e.json_path}: {e.message}" for e in validator_class(schema).iter_errors(compose())]
    assert errors == []


def test_a_schema_violation_is_caught() -> None:
    # The check above can fail: a misspelt key is refused by the same schema.
    schema = json.loads(SCHEMA.read_text("utf-8"))
    bad = compose()
    bad["services"]["worker"]["depends_onn"] = bad["services"]["worker"].pop("depends_on")
    assert list(jsonschema.Draft201909Validator(schema).iter_errors(bad))


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose absent")
def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    env = generated_env(tmp_path)
    done = subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "-f", str(COMPOSE),
         "--env-file", str(env), "config", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_stack_has_its_services() -> None:
    assert set(services()) == SINGLE_NODE | {"prometheus"} | CLUSTER
    # Prometheus and the cluster are optional: a plain `docker compose up` starts the rest,
    # the single-node stack, unchanged.
    default = {name for name, service in services().items() if not service.get("profiles")}
    assert default == SINGLE_NODE
    assert services()["prometheus"]["profiles"] == ["prometheus"]
    for name in CLUSTER:
        assert services()[name]["profiles"] == ["cluster"], name


@pytest.mark.skipif(shutil.which("promtool") is None, reason="Prometheus' promtool absent")
def test_promtool_accepts_the_prometheus_config() -> None:
    config = ROOT / "deploy" / "prometheus" / "prometheus.yml"
    done = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_scrapes_every_worker_replica_on_its_web_port() -> None:
    prometheus = services()["prometheus"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in prometheus["volumes"]}
    config_path = "./deploy/prometheus/prometheus.yml"
    assert mounts[config_path] == "/etc/prometheus/prometheus.yml"
    assert f"--config.file={mounts[config_path]}" in prometheus["command"]
    config = yaml.safe_load((ROOT / config_path).read_text("utf-8"))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    # DNS discovery of the `worker` service: one target per replica, however many run.
    (sd,) = job["dns_sd_configs"]
    worker_port = services()["worker"]["environment"]["DXPULSE_WEB__PORT"]
    assert (sd["names"], sd["type"], sd["port"]) == (["worker"], "A", worker_port)


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in services().items():
        image = service["image"]
        if "build" in service:
            assert image == DXPULSE_IMAGE, name  # built here from the Dockerfile
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d+\.\d+", tag), (name, image)


def test_every_service_others_wait_for_is_healthy_or_done() -> None:
    all_services = services()
    for name, service in all_services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in all_services[dependency], (name, dependency)
            else:  # one-shot init (each stack's own): must have exited 0
                assert condition == "service_completed_successfully", (name, dependency)
                assert dependency in {"init", "cluster-init"}, (name, dependency)
                assert all_services[dependency]["restart"] == "no", dependency
                assert all_services[dependency]["command"][0] == "init", dependency
    long_running = ("kafka", "clickhouse", "grafana", "worker")
    cluster = [name for name in CLUSTER if name not in {"cluster-init", "cluster-producer"}]
    for name in (*long_running, *cluster):
        assert all_services[name]["healthcheck"]["test"], name


def test_every_service_has_a_memory_limit_and_data_is_in_named_volumes() -> None:
    named = set(compose()["volumes"])
    for name, service in services().items():
        assert service["deploy"]["resources"]["limits"]["memory"], name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in named or source.startswith("./deploy/"), (name, volume)
    assert {"kafka-data", "clickhouse-data", "grafana-data"} <= named


def test_workers_scale_out() -> None:
    for name in ("worker", "cluster-worker"):
        worker = services()[name]
        # A fixed name or host port would stop `--scale worker=N` at one container.
        assert "container_name" not in worker and "ports" not in worker, name
        assert worker["command"] == ["worker", "--no-migrate"]  # the writer has no DDL rights
        env = worker["environment"]
        assert env["DXPULSE_CLICKHOUSE__USERNAME"] == "dxpulse_writer"  # least privilege
        assert env["DXPULSE_KAFKA__PARTITIONS"] == "${DXPULSE_KAFKA__PARTITIONS:-12}", name


def test_kafka_runs_in_kraft_mode_without_auto_created_topics() -> None:
    for name in ("kafka", "kafka-1", "kafka-2", "kafka-3"):
        env = services()[name]["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", name
        assert "ZOOKEEPER" not in " ".join(env), name
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # init creates them, sized


def test_grafana_is_locked_down_and_provisioned_from_the_repo() -> None:
    for name in ("grafana", "cluster-grafana"):
        grafana = services()[name]
        env = grafana["environment"]
        assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false", name
        assert env["GF_USERS_ALLOW_SIGN_UP"] == "false", name
        assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?"), name
        assert env["GF_INSTALL_PLUGINS"].startswith("grafana-clickhouse-datasource "), name
        mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
        assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning", name
        assert mounts["./deploy/grafana/dashboards"] == build.CONTAINER_DASHBOARDS_PATH, name


def test_ports_are_published_on_loopback_only() -> None:
    for name, service in services().items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_env_example_documents_every_variable_the_compose_file_reads() -> None:
    used = set(re.findall(r"\$\{(\w+)", _without_comments(COMPOSE.read_text("utf-8"))))
    documented = env_example()
    assert used, "the compose file reads no variables?"
    assert used <= set(documented), sorted(used - set(documented))


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_env_example_holds_no_password_and_every_password_is_required() -> None:
    text = COMPOSE.read_text("utf-8")
    passwords = {k: v for k, v in env_example().items() if k.endswith(SECRET_SUFFIXES)}
    # 5 for the single node; the cluster adds the interserver password and the cluster secret.
    assert len(passwords) == 7
    assert all(v == "" for v in passwords.values()), passwords
    for name in passwords:
        # Required where used: compose stops with a message instead of an empty password.
        assert re.search(rf"\$\{{{name}:\?", text), name
        assert not re.search(rf"\$\{{{name}:-", text), name


def test_gen_env_fills_every_password_with_a_fresh_random_value(tmp_path: Path) -> None:
    first, second = (read_env(generated_env(tmp_path)) for _ in range(2))
    assert set(first) == set(env_example())
    for name, value in first.items():
        if name.endswith(SECRET_SUFFIXES):
            assert re.fullmatch(r"[A-Za-z0-9]{32}", value), name
            assert value != second[name], name
        else:
            assert value == env_example()[name] == second[name], name
