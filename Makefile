# Day-to-day operations of the docker-compose stack (docs/operations.md).
# `make help` lists the targets. Needs Docker with the compose plugin, except `test`.
COMPOSE ?= docker compose
N ?= 2
SERVICE ?=

.PHONY: help env up down logs ps scale ch topics test cluster-up cluster-down cluster-ps

# The `cluster` compose profile's services (docs/operations.md, "Cluster mode"): named one by
# one, so the cluster targets never start or stop the single-node stack's.
CLUSTER_SERVICES = kafka-1 kafka-2 kafka-3 keeper-1 keeper-2 keeper-3 \
	ch-s1-r1 ch-s1-r2 ch-s2-r1 ch-s2-r2 \
	cluster-init cluster-worker cluster-producer cluster-grafana

help: ## list the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

env: ## write .env with random passwords (refuses to overwrite one)
	@test ! -e .env || { echo ".env exists; remove it first to regenerate"; exit 1; }
	./deploy/gen-env.sh > .env
	@echo "wrote .env"

up: ## build and start the stack in the background
	@test -e .env || { echo "no .env: run 'make env' first"; exit 1; }
	$(COMPOSE) up -d --build

down: ## stop the stack (data volumes are kept; add -v to docker compose down to drop them)
	$(COMPOSE) down

logs: ## follow the logs (SERVICE=worker for one service)
	$(COMPOSE) logs -f --tail=100 $(SERVICE)

ps: ## services, their state and health
	$(COMPOSE) ps

scale: ## run N workers (make scale N=4); at most the topics' partitions do work
	$(COMPOSE) up -d --no-recreate --scale worker=$(N)

ch: ## clickhouse-client shell as the admin user
	$(COMPOSE) exec clickhouse sh -c 'clickhouse-client --user "$$CLICKHOUSE_USER" --password "$$CLICKHOUSE_PASSWORD" --database dxpulse'

topics: ## topics with partitions and the workers' consumer-group lag
	$(COMPOSE) exec kafka /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe
	$(COMPOSE) exec kafka /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --describe --group dxpulse-worker

cluster-up: ## build and start the cluster profile only (3 Kafka, ClickHouse 2x2, 3 Keepers)
	@test -e .env || { echo "no .env: run 'make env' first"; exit 1; }
	$(COMPOSE) --profile cluster up -d --build $(CLUSTER_SERVICES)

cluster-down: ## stop and remove the cluster's containers (its volumes are kept)
	$(COMPOSE) --profile cluster rm --stop --force $(CLUSTER_SERVICES)

cluster-ps: ## the cluster's services, their state and health
	$(COMPOSE) --profile cluster ps $(CLUSTER_SERVICES)

test: ## lint, types and the test suite on embedded engines (no Docker needed)
	./bin/test
