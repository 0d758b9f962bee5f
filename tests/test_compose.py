"""docker-compose.yml checked without a container engine: against the Compose specification's JSON
schema (tests/compose-spec.json, vendored from compose-spec/compose-spec, schema/compose-spec.json at
commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6), and against what the code reads and runs."""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9][A-Za-z0-9._-]*$")


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def _environment(service: dict[str, Any]) -> dict[str, str]:
    given = service.get("environment") or {}
    if isinstance(given, list):
        return dict(entry.partition("=")[::2] for entry in given)
    return {str(k): str(v) for k, v in given.items()}


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(_compose())


def test_every_granular_variable_the_stack_sets_is_a_setting_the_server_reads() -> None:
    prefix = Settings.model_config.get("env_prefix", "")
    known = {prefix + name.upper() for name in Settings.model_fields}
    services = _compose()["services"]
    given = {
        name for service in services.values() for name in _environment(service) if name.startswith(prefix)
    }
    assert given
    assert given <= known, sorted(given - known)


def test_every_image_is_pinned_and_all_database_members_run_one_version() -> None:
    services = _compose()["services"]
    images = {name: service["image"] for name, service in services.items() if "image" in service}
    assert all(PINNED_IMAGE.match(image) and not image.endswith(":latest") for image in images.values()), (
        images
    )
    assert all("image" in service or "build" in service for service in services.values())
    assert len({image for image in images.values() if image.startswith("mongo:")}) == 1


def test_the_api_restarts_checks_its_health_and_waits_for_the_replica_set() -> None:
    api = _compose()["services"]["api"]
    assert api["restart"] == "unless-stopped"
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"]["mongo-init"] == {"condition": "service_completed_successfully"}


def test_the_replica_set_authenticates_members_and_clients() -> None:
    services = _compose()["services"]
    members = [service for name, service in services.items() if re.fullmatch(r"mongo\d", name)]
    assert len(members) == 3
    assert all("--keyFile" in member["command"] for member in members)
    assert "MONGO_INITDB_ROOT_PASSWORD" in _environment(services["mongo1"])
    assert "granular:" in _environment(services["api"])["GRANULAR_MONGODB_URI"]


def test_initiation_waits_for_any_primary_not_a_particular_member() -> None:
    script = " ".join(_compose()["services"]["mongo-init"]["command"])
    assert "db.hello().primary" in script
    assert "isWritablePrimary" not in script
    assert "priority: 2" in script
