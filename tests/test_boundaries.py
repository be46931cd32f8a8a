"""The import boundaries `make lint` enforces with import-linter (contracts in the root pyproject.toml)."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
INTRUDER = "popchoice_intruder"


def real_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config


def toml_config(config: dict[str, Any]) -> str:
    """The [tool.importlinter] table as TOML (its values are strings, booleans and lists of strings)."""
    lines = ["[tool.importlinter]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in config.items() if key != "contracts"]
    for contract in config["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in contract.items()]
    return "\n".join(lines) + "\n"


def lint_imports(config_file: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_real_contracts_are_kept():
    """The repository's own contracts pass."""
    run = lint_imports(ROOT / "pyproject.toml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_a_service_importing_another_service_fails_lint_naming_both(tmp_path):
    """A service (here a throw-away package among the independent services) that imports the gateway
    breaks the services-independent contract: lint-imports exits non-zero and names both modules."""
    package = tmp_path / "src" / INTRUDER
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handlers.py").write_text("from popchoice_gateway import schemas\n")
    config = real_config()
    config["root_packages"] = [*config["root_packages"], INTRUDER]
    independent = next(c for c in config["contracts"] if c["id"] == "services-independent")
    independent["modules"] = [*independent["modules"], INTRUDER]
    config_file = tmp_path / "pyproject.toml"
    config_file.write_text(toml_config(config))

    run = lint_imports(config_file, pythonpath=tmp_path / "src")

    output = " ".join(run.stdout.split())  # the report wraps long lines
    assert run.returncode != 0, output
    assert f"{independent['name']} BROKEN" in output and "1 broken" in output
    assert f"{INTRUDER} is not allowed to import popchoice_gateway" in output
    assert f"{INTRUDER}.handlers -> popchoice_gateway.schemas" in output
