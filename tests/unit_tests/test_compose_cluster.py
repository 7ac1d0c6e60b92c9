"""The compose profile `cluster`, checked without a Docker engine: how its parts fit together.

3 Kafka brokers in KRaft mode (one 3-voter quorum), ClickHouse 2 shards x 2 replicas configured
by deploy/cluster/clickhouse/cluster.xml, 3 ClickHouse Keepers configured by
deploy/cluster/keeper/keeper_config.xml, and dxpulse's init, workers, producer and Grafana with
the cluster settings. What every service of the file must be (pinned, memory-limited, loopback
ports, named volumes, healthy dependencies, secrets from .env) is checked for all of them in
test_compose.py; the dxpulse containers' commands and variables in test_container.py. Nothing
here has run on a real cluster: the files are read, and ClickHouse's `from_env` attributes are
resolved with each service's environment as the server would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from dxpulse.core.config import ClickHouseSettings
from tests.envfile import read_env
from tests.unit_tests import test_container
from tests.unit_tests.test_compose import (
    CLUSTER,
    COMPOSE,
    ENV_EXAMPLE,
    ROOT,
    SECRET_SUFFIXES,
    SINGLE_NODE,
    generated_env,
    services,
)

CLUSTER_XML = "./deploy/cluster/clickhouse/cluster.xml"
KEEPER_XML = "./deploy/cluster/keeper/keeper_config.xml"
MAKEFILE = ROOT / "Makefile"
DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "dxpulse.yaml"
CLUSTER_NAME = "dxpulse"
# The server's own ports (the image's defaults, which cluster.xml keeps).
HTTP_PORT, NATIVE_PORT = 8123, 9000
# The cluster's dxpulse containers (those with the dxpulse settings).
DXPULSE_CLUSTER = {"cluster-init", "cluster-worker", "cluster-producer"}


def cluster() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if "cluster" in s.get("profiles", [])}


def of_image(image: str) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in cluster().items() if s["image"] == image}


def brokers() -> dict[str, dict[str, Any]]:
    return of_image(services()["kafka"]["image"])  # the single node's pinned Kafka


def nodes() -> dict[str, dict[str, Any]]:
    return of_image(services()["clickhouse"]["image"])  # the single node's pinned ClickHouse


def keepers() -> dict[str, dict[str, Any]]:
    return {
        n: s for n, s in cluster().items() if s["image"].startswith("clickhouse/clickhouse-keeper:")
    }


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as the container gets it: .env.example's values, and a
    placeholder for each secret (empty there, random in the .env of deploy/gen-env.sh)."""
    example = {
        k: v or f"placeholder-{k.lower()}"
        for k, v in read_env(ENV_EXAMPLE).items()
        if v or k.endswith(SECRET_SUFFIXES)
    }
    return test_container.service_environment(service, example)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """host source -> container path."""
    return {v.split(":")[0]: v.split(":")[1] for v in service.get("volumes", [])}


def config(path: str) -> ET.Element:
    return ET.parse(ROOT / path).getroot()  # the repository's own file


def value(element: ET.Element | None, env: dict[str, str]) -> str:
    """An element's value as ClickHouse reads it: its text, or the variable from_env names."""
    assert element is not None
    variable = element.get("from_env")
    if variable is not None:
        assert not (element.text or "").strip(), f"<{element.tag}> has text and from_env"
        assert variable in env, f"<{element.tag} from_env={variable!r}>: not in the environment"
        return env[variable]
    return (element.text or "").strip()


def remote_shards() -> list[list[tuple[str, int]]]:
    """remote_servers/dxpulse: per shard in order, its replicas' (host, native port)."""
    (server,) = config(CLUSTER_XML).findall(f"remote_servers/{CLUSTER_NAME}")
    shards = []
    for shard in server.findall("shard"):
        assert value(shard.find("internal_replication"), {}) == "true"  # replicated tables
        replicas = shard.findall("replica")
        shards.append(
            [(value(r.find("host"), {}), int(value(r.find("port"), {}))) for r in replicas]
        )
    return shards


def macros(name: str) -> tuple[str, str]:
    env = env_of(nodes()[name])
    found = config(CLUSTER_XML).find("macros")
    assert found is not None
    return value(found.find("shard"), env), value(found.find("replica"), env)


def shards_setting(service: dict[str, Any]) -> list[list[str]]:
    parsed = json.loads(env_of(service)["DXPULSE_CLICKHOUSE__SHARDS"])
    assert isinstance(parsed, list)
    return parsed


def listeners(value_: str) -> dict[str, tuple[str, int]]:
    """KAFKA_LISTENERS / _ADVERTISED_LISTENERS: name -> (host, port)."""
    found = {}
    for item in value_.split(","):
        parts = re.fullmatch(r"(\w+)://([^:]*):(\d+)", item.strip())
        assert parts, item
        found[parts.group(1)] = (parts.group(2), int(parts.group(3)))
    return found


# --- The profile as a whole ----------------------------------------------------------------


def test_the_cluster_is_a_profile_of_its_own_beside_the_unchanged_single_node_stack() -> None:
    assert set(cluster()) == CLUSTER
    everything = services()
    default = {name for name, s in everything.items() if not s.get("profiles")}
    assert default == SINGLE_NODE  # `docker compose up` starts what it started before
    for name, service in cluster().items():
        # Its own network and volumes, and waits for nothing outside the profile.
        assert set(service["networks"]) == {"cluster"}, name  # a list, or aliases by network
        assert set(service.get("depends_on", {})) <= CLUSTER, name
    for name in default:
        assert "networks" not in everything[name], name  # the default network, as before
    single_volumes = {v for n in default for v in mounts(everything[n]) if not v.startswith(".")}
    cluster_volumes = [v for s in cluster().values() for v in mounts(s) if not v.startswith(".")]
    assert not single_volumes & set(cluster_volumes)
    assert len(cluster_volumes) == len(set(cluster_volumes)), "two services share a volume"


def test_the_two_stacks_publish_different_host_ports() -> None:
    def host_ports(names: set[str]) -> list[str]:
        return [p.rsplit(":", 1)[0] for n in names for p in services()[n].get("ports", [])]

    single, clustered = host_ports(SINGLE_NODE | {"prometheus"}), host_ports(CLUSTER)
    assert clustered and not set(single) & set(clustered)
    assert len(clustered) == len(set(clustered))


def test_every_long_running_cluster_service_is_healthchecked_and_limited() -> None:
    for name, service in cluster().items():
        assert service["deploy"]["resources"]["limits"]["memory"], name
        if name not in {"cluster-init", "cluster-producer"}:  # a one-shot; the producer as before
            assert service["healthcheck"]["test"], name
        repo, _, tag = service["image"].rpartition(":")
        assert repo and re.fullmatch(r"\d+\.\d+\.\d+(\.\d+)?|local", tag), (name, service["image"])


# --- Kafka ---------------------------------------------------------------------------------


def test_three_kraft_brokers_form_one_three_voter_quorum() -> None:
    found = brokers()
    assert sorted(found) == ["kafka-1", "kafka-2", "kafka-3"]
    envs = {name: env_of(service) for name, service in found.items()}
    ids = {name: int(env["KAFKA_NODE_ID"]) for name, env in envs.items()}
    assert sorted(ids.values()) == [1, 2, 3]
    expected_voters = set()
    for name, env in envs.items():
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", name  # combined nodes
        own = listeners(env["KAFKA_LISTENERS"])
        controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
        expected_voters.add(f"{ids[name]}@{name}:{own[controller][1]}")
    for name, env in envs.items():
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == expected_voters, name
    # One cluster id for the three, or they would format three clusters.
    assert len({env["CLUSTER_ID"] for env in envs.values()}) == 1
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", envs["kafka-1"]["CLUSTER_ID"])


def test_the_brokers_replicate_every_topic_three_times_with_two_in_sync() -> None:
    for name, env in ((n, env_of(s)) for n, s in brokers().items()):
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", name
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == 3, name
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2, name
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 3, name
        assert int(env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"]) == 3, name
        assert int(env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == 2, name
    # `init` creates the topics: it asks for the brokers' replication factor explicitly.
    for name in DXPULSE_CLUSTER:
        assert int(env_of(services()[name])["DXPULSE_KAFKA__REPLICATION_FACTOR"]) == 3, name


def test_each_broker_advertises_its_own_name_and_its_published_host_port() -> None:
    for name, service in brokers().items():
        env = env_of(service)
        own, advertised = (
            listeners(env["KAFKA_LISTENERS"]),
            listeners(env["KAFKA_ADVERTISED_LISTENERS"]),
        )
        inter = env["KAFKA_INTER_BROKER_LISTENER_NAME"]
        assert advertised[inter] == (name, own[inter][1]), name
        host, port = advertised["EXTERNAL"]
        assert host == "localhost" and own["EXTERNAL"][1] == port, name
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name
        assert mounts(service)[f"{name}-data"] == env["KAFKA_LOG_DIRS"], name


# --- ClickHouse Keeper ---------------------------------------------------------------------


def test_three_keepers_of_the_servers_version_in_one_raft_configuration() -> None:
    found = keepers()
    assert sorted(found) == ["keeper-1", "keeper-2", "keeper-3"]
    server_tag = services()["clickhouse"]["image"].rpartition(":")[2]
    keeper_xml = config(KEEPER_XML)
    raft = {
        int(value(s.find("id"), {})): value(s.find("hostname"), {})
        for s in keeper_xml.findall("keeper_server/raft_configuration/server")
    }
    ids = {}
    for name, service in found.items():
        assert service["image"].rpartition(":")[2] == server_tag, name  # same release
        assert mounts(service)[KEEPER_XML] == "/etc/clickhouse-keeper/keeper_config.xml", name
        ids[int(value(keeper_xml.find("keeper_server/server_id"), env_of(service)))] = name
    assert ids == raft  # each keeper is the raft server of its own id


def test_a_keeper_is_healthy_only_when_ready_and_keeps_its_raft_state_in_its_volume() -> None:
    server = config(KEEPER_XML).find("keeper_server")
    assert server is not None
    port = int(value(server.find("http_control/port"), {}))
    endpoint = value(server.find("http_control/readiness/endpoint"), {})
    for name, service in keepers().items():
        (url,) = re.findall(r"https?://\S+", service["healthcheck"]["test"][1])
        parts = urlsplit(url)
        assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", port, endpoint), name
        data = mounts(service)[f"{name}-data"]
        for path in ("log_storage_path", "snapshot_storage_path"):
            assert value(server.find(path), {}).startswith(data + "/"), (name, path)
    assert value(server.find("tcp_port"), {}) == "9181"


# --- ClickHouse: 2 shards x 2 replicas -------------------------------------------------------


def test_four_clickhouse_nodes_whose_macros_make_two_shards_of_two_replicas() -> None:
    found = nodes()
    assert len(found) == 4
    pairs = {name: macros(name) for name in found}
    assert len(set(pairs.values())) == 4, pairs  # no two nodes are the same replica
    by_shard: dict[str, set[str]] = {}
    for shard, replica in pairs.values():
        by_shard.setdefault(shard, set()).add(replica)
    assert sorted(by_shard) == ["01", "02"]
    assert all(len(replicas) == 2 for replicas in by_shard.values()), by_shard
    for name, service in found.items():
        assert mounts(service)[CLUSTER_XML].startswith("/etc/clickhouse-server/config.d/"), name
        assert mounts(service)[f"{name}-data"] == "/var/lib/clickhouse", name  # its own volume
        host = value(config(CLUSTER_XML).find("interserver_http_host"), env_of(service))
        assert host == name, "the other replica fetches parts from this name"


def test_remote_servers_list_the_compose_hosts_shard_by_shard_as_their_macros_say() -> None:
    shards = remote_shards()
    assert [len(replicas) for replicas in shards] == [2, 2]
    hosts = [host for replicas in shards for host, _ in replicas]
    assert sorted(hosts) == sorted(nodes())  # every node once, and nothing else
    for number, replicas in enumerate(shards, start=1):
        for host, port in replicas:
            assert port == NATIVE_PORT, host
            assert macros(host)[0] == f"{number:02d}", (
                f"{host}: in shard {number} of remote_servers"
            )


def test_every_node_uses_the_three_keepers() -> None:
    tcp_port = int(value(config(KEEPER_XML).find("keeper_server/tcp_port"), {}))
    zookeeper = {
        (value(n.find("host"), {}), int(value(n.find("port"), {})))
        for n in config(CLUSTER_XML).findall("zookeeper/node")
    }
    assert zookeeper == {(name, tcp_port) for name in keepers()}
    for name, service in nodes().items():  # the one file, on every node
        assert CLUSTER_XML in mounts(service), name
        assert set(service["depends_on"]) == set(keepers()), name


def test_ddl_and_users_reach_every_node_through_keeper() -> None:
    root = config(CLUSTER_XML)
    assert value(root.find("distributed_ddl/path"), {}).startswith("/clickhouse/")
    directories = root.find("user_directories")
    assert directories is not None
    # Replacing the defaults: their local_directory would take CREATE USER on one node only.
    assert directories.get("replace") is not None
    assert [child.tag for child in directories] == ["users_xml", "replicated"]
    assert value(directories.find("replicated/zookeeper_path"), {}) == "/clickhouse/access/"


def test_the_nodes_secrets_come_from_env_and_are_required() -> None:
    root = config(CLUSTER_XML)
    server = root.find(f"remote_servers/{CLUSTER_NAME}")
    assert server is not None
    secrets = [server.find("secret"), root.find("interserver_http_credentials/password")]
    compose_text = COMPOSE.read_text("utf-8")
    documented = read_env(ENV_EXAMPLE)
    for element in secrets:
        assert element is not None and not (element.text or "").strip()
        variable = element.get("from_env")
        assert variable, f"<{element.tag}> must come from the environment"
        for name, service in nodes().items():
            assert service["environment"][variable].startswith(f"${{{variable}:?"), name
        assert documented[variable] == "", variable  # in .env.example, empty
        assert re.search(rf"\${{{variable}:\?", compose_text)
    # Every from_env of the file is set on every node.
    variables = {e.get("from_env") for e in root.iter() if e.get("from_env")}
    for name, service in nodes().items():
        assert variables <= set(env_of(service)), (name, variables - set(env_of(service)))


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose absent")
def test_docker_compose_refuses_an_env_without_the_cluster_secret(tmp_path: Path) -> None:
    env = generated_env(tmp_path)
    lines = env.read_text("utf-8").splitlines()
    kept = [line for line in lines if not line.startswith("CLICKHOUSE_CLUSTER_SECRET=")]
    env.write_text("\n".join(kept), "utf-8")
    done = subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "-f", str(COMPOSE),
         "--env-file", str(env), "--profile", "cluster", "config", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0
    assert "CLICKHOUSE_CLUSTER_SECRET" in done.stderr


# --- dxpulse on the cluster ----------------------------------------------------------------


def test_the_dxpulse_cluster_settings_match_remote_servers() -> None:
    expected = [
        [f"http://{host}:{HTTP_PORT}" for host, _ in replicas] for replicas in remote_shards()
    ]
    broker_names = sorted(brokers())
    for name in DXPULSE_CLUSTER:
        service = services()[name]
        env = env_of(service)
        assert env["DXPULSE_CLICKHOUSE__CLUSTER"] == CLUSTER_NAME, name
        assert shards_setting(service) == expected, name
        # Migrations and reads: the first replica of shard 1.
        assert env["DXPULSE_CLICKHOUSE__DSN"] == expected[0][0], name
        bootstrap = [urlsplit(f"//{b}") for b in env["DXPULSE_KAFKA__BOOTSTRAP_SERVERS"].split(",")]
        assert sorted(b.hostname or "" for b in bootstrap) == broker_names, name
        assert {b.port for b in bootstrap} == {9092}, name  # their INTERNAL listener


def test_the_cluster_runs_the_single_node_commands_and_the_cli_parses_them() -> None:
    everything = services()
    for single, clustered in (("init", "cluster-init"), ("worker", "cluster-worker"),
                              ("producer", "cluster-producer")):  # fmt: skip
        assert everything[clustered]["command"] == everything[single]["command"]
        assert everything[clustered]["image"] == everything[single]["image"]
    # test_container.py checks every dxpulse container's command, variables and healthcheck:
    # the cluster's are among them.
    assert set(test_container.dxpulse_services()) >= DXPULSE_CLUSTER
    for scenario, env in test_container.scenarios().items():
        for name in DXPULSE_CLUSTER:
            args = [test_container.interpolate(str(w), env) for w in everything[name]["command"]]
            test_container.check_cli_command(args, f"service {name} ({scenario})")


def test_the_cluster_settings_are_settings_of_dxpulse() -> None:
    # DXPULSE_CLICKHOUSE__CLUSTER and __SHARDS: dropped silently by pydantic-settings unless
    # ClickHouseSettings has the fields (`cluster: str | None`, `shards: list[list[str]]`).
    missing = {"cluster", "shards"} - set(ClickHouseSettings.model_fields)
    assert not missing, f"ClickHouseSettings (dxpulse/core/config.py) has no {sorted(missing)}"
    env = env_of(services()["cluster-worker"])
    settings = ClickHouseSettings.model_validate(
        {"dsn": env["DXPULSE_CLICKHOUSE__DSN"], "cluster": env["DXPULSE_CLICKHOUSE__CLUSTER"],
         "shards": json.loads(env["DXPULSE_CLICKHOUSE__SHARDS"])}
    )  # fmt: skip
    dumped = settings.model_dump()
    assert dumped["cluster"] == CLUSTER_NAME
    assert dumped["shards"] == shards_setting(services()["cluster-worker"])


def test_the_cluster_grafana_is_the_single_nodes_reading_the_first_replica() -> None:
    single, clustered = services()["grafana"], services()["cluster-grafana"]
    assert clustered["image"] == single["image"]
    assert clustered["environment"] == single["environment"]
    provisioning = {k: v for k, v in mounts(single).items() if k.startswith("./")}
    assert {k: v for k, v in mounts(clustered).items() if k.startswith("./")} == provisioning
    # The provisioned datasource names one host; on the cluster network it is shard 1's first
    # replica, where the Distributed tables keep the single-node names (same dashboards).
    (datasource,) = yaml.safe_load(DATASOURCE.read_text("utf-8"))["datasources"]
    host, port = datasource["jsonData"]["host"], datasource["jsonData"]["port"]
    first = urlsplit(env_of(services()["cluster-worker"])["DXPULSE_CLICKHOUSE__DSN"]).hostname
    assert first is not None
    assert host in nodes()[first]["networks"]["cluster"]["aliases"]
    assert port == NATIVE_PORT
    assert clustered["depends_on"][first]["condition"] == "service_healthy"
    aliased = [n for n, s in cluster().items() if isinstance(s["networks"], dict)
               and host in s["networks"]["cluster"].get("aliases", [])]  # fmt: skip
    assert aliased == [first]


# --- Makefile ------------------------------------------------------------------------------


def make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The real recipes, run in an empty directory with `COMPOSE` printing what it was given.
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(MAKEFILE), *args, "COMPOSE=echo compose"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip


def compose_arguments(output: str) -> list[str]:
    (line,) = [line for line in output.splitlines() if line.startswith("compose ")]
    return line.split()[1:]


@pytest.mark.skipif(shutil.which("make") is None, reason="make absent")
def test_make_cluster_up_refuses_without_env_then_starts_only_the_cluster(tmp_path: Path) -> None:
    refused = make(tmp_path, "cluster-up")
    assert refused.returncode != 0 and "make env" in refused.stdout + refused.stderr
    (tmp_path / ".env").write_text("", "utf-8")
    done = make(tmp_path, "cluster-up")
    assert done.returncode == 0, done.stderr
    words = compose_arguments(done.stdout)
    assert words[:5] == ["--profile", "cluster", "up", "-d", "--build"]
    assert set(words[5:]) == CLUSTER  # every cluster service named, no single-node one


@pytest.mark.skipif(shutil.which("make") is None, reason="make absent")
def test_make_cluster_down_and_ps_name_only_the_cluster(tmp_path: Path) -> None:
    for target, command in (("cluster-down", ["rm", "--stop", "--force"]), ("cluster-ps", ["ps"])):
        done = make(tmp_path, target)
        assert done.returncode == 0, done.stderr
        words = compose_arguments(done.stdout)
        assert words[: 2 + len(command)] == ["--profile", "cluster", *command], target
        assert set(words[2 + len(command) :]) == CLUSTER, target


@pytest.mark.skipif(shutil.which("make") is None, reason="make absent")
def test_make_help_lists_the_hyphenated_targets(tmp_path: Path) -> None:
    done = make(tmp_path, "help")
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert {"up", "down", "cluster-up", "cluster-down", "cluster-ps"} <= listed
    documented = set(re.findall(r"^([a-z][a-z-]*):.*## ", MAKEFILE.read_text("utf-8"), re.M))
    assert listed == documented
