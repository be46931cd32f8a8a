"""Checks on files no Docker engine or reader runs here: compose, Dockerfiles, README settings."""

import re
import tomllib
from pathlib import Path

import yaml

from popchoice_backfill.config import BackfillSettings
from popchoice_catalog_seeder.config import SeederSettings
from popchoice_common.db.migrations import MigrateSettings
from popchoice_common.demo import DemoSettings
from popchoice_common.settings import PopChoiceSettings
from popchoice_discovery.config import DiscoverySettings
from popchoice_gateway.config import GatewaySettings
from popchoice_health_reporter.config import HealthSettings
from popchoice_recommender.config import RecommenderSettings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_CLASSES = [
    PopChoiceSettings,
    MigrateSettings,
    DemoSettings,
    SeederSettings,
    DiscoverySettings,
    BackfillSettings,
    HealthSettings,
    RecommenderSettings,
    GatewaySettings,
]


def known_settings() -> set[str]:
    return {name.upper() for cls in SETTINGS_CLASSES for name in cls.model_fields}


def compose():
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_every_built_service_uses_the_one_dockerfile_and_runs_its_own_command():
    """Each compose service is built from deploy/Dockerfile for a real service and runs a console script of it."""
    services = compose()["services"]
    built = {name: spec for name, spec in services.items() if "build" in spec}
    assert {"gateway", "recommender", "catalog-seeder", "discovery", "backfill", "health-reporter"} <= set(built)
    assert sorted(ROOT.glob("services/*/Dockerfile")) == [], "one Dockerfile for every service: deploy/Dockerfile"
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
    for name, spec in built.items():
        assert spec["build"]["dockerfile"] == "deploy/Dockerfile", name
        service_dir = ROOT / "services" / spec["build"]["args"]["SERVICE"]
        pyproject = tomllib.loads((service_dir / "pyproject.toml").read_text())
        library = tomllib.loads((ROOT / "libs" / "popchoice_common" / "pyproject.toml").read_text())
        scripts = set(pyproject["project"]["scripts"]) | set(library["project"]["scripts"])
        assert spec["command"][0] in scripts, (name, spec["command"])


def test_every_environment_variable_is_a_real_setting():
    """Compose passes only variables some settings class reads."""
    known = known_settings()
    for name, spec in compose()["services"].items():
        if "build" not in spec:
            continue
        passed = set(spec.get("environment", {}))
        assert passed <= known, (name, passed - known)


def test_every_setting_is_documented_in_the_readme():
    """The README's settings table names every setting."""
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", readme, flags=re.MULTILINE))
    assert known_settings() <= documented, known_settings() - documented


def test_every_make_target_is_documented_in_the_readme():
    """Each Makefile target with a description appears in the README."""
    targets = re.findall(r"^([a-z-]+(?: [a-z-]+)*):.*## ", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    readme = (ROOT / "README.md").read_text()
    for group in targets:
        for target in group.split():
            assert f"make {target}" in readme, target
