"""The Bicep templates in infra/ as data (pycep's JSON, the same across pycep versions) and checkov's report on them.

pycep writes identifiers and string literals alike as JSON strings (`name: x` and `name: 'x'` both give "x"), so
tests compare against the names they expect, not against types.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

Json = Any


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def _parser() -> BicepParser:
    return BicepParser()  # builds the grammar: 0.2 s, so once


def parse(path: Path) -> Json:
    """pycep's JSON for one file; raises on a syntax error."""
    return _normalise(_parser().parse(file_path=path))


@cache
def template(relative: str) -> Json:
    """The parsed infra/<relative>, read once per session."""
    return parse(INFRA / relative)


def _normalise(node: Json) -> Json:
    """Property accessors as dotted names (pycep 0.5 nests them, 0.4 does not) and keys without their quotes."""
    if isinstance(node, dict):
        operator = node.get("operator")
        if isinstance(operator, dict) and operator.get("type") == "property_accessor":
            operands = operator["operands"]
            return f"{_normalise(operands['operand_1'])}.{_normalise(operands['operand_2'])}"
        return {key.strip("'"): _normalise(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    return node


def body(resource: Json) -> Json:
    """A resource's own properties, under its loop or condition if it has one."""
    config = resource["config"]
    return config["config"] if "loop_type" in config or "condition" in config else config


def resources_of_type(parsed: Json, resource_type: str) -> dict[str, Json]:
    return {name: r for name, r in parsed.get("resources", {}).items() if r["type"] == resource_type}


def one_resource(parsed: Json, resource_type: str) -> Json:
    found = resources_of_type(parsed, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))


def module_params(name: str) -> Json:
    return template("main.bicep")["modules"][name]["config"]["params"]


def resolve_names(expression: Json, relative: str = "main.bicep") -> list[Json]:
    """What an expression listing names in infra/<relative> evaluates to, as far as the tests need: variables,
    properties of a loadJsonContent() variable, literal lists and concat(); anything else is returned as it stands."""
    variables = template(relative).get("variables", {})
    if isinstance(expression, list):
        return [name for item in expression for name in resolve_names(item, relative)]
    if isinstance(expression, dict) and expression.get("function", {}).get("type") == "concat":
        arguments = expression["function"]["parameters"].values()
        return [name for arg in arguments for name in resolve_names(arg, relative)]
    if isinstance(expression, str):
        variable, _, attribute = expression.partition(".")
        if variable in variables:
            value = variables[variable]["value"]
            loaded = isinstance(value, dict) and value.get("function", {}).get("type") == "load_json_content"
            if loaded and attribute:
                loaded_path = (INFRA / relative).parent / value["function"]["parameters"]["file_path"]
                return list(json.loads(loaded_path.read_text())[attribute])
            if not attribute:
                return resolve_names(value, relative)
    return [expression]


# checkov is a command-line tool with its own environment: every checkov 3.x since 3.1.48 pins packaging<24, which
# pytest 9 cannot share. It lives inside the test venv, so .gitignore and `make clean` already cover it.
CHECKOV_REQUIREMENTS = Path(__file__).with_name("requirements-checkov.txt")
CHECKOV_ENV = Path(sys.prefix) / "checkov"


def checkov_version() -> str:
    """The checkov version requirements-checkov.txt pins: the one the gate's skips were reviewed against."""
    pinned = re.search(r"^checkov==(\S+)$", CHECKOV_REQUIREMENTS.read_text(), re.MULTILINE)
    assert pinned, f"{CHECKOV_REQUIREMENTS.name} should pin checkov==<version>"
    return pinned[1]


def checkov_command() -> list[str]:
    """checkov from $CHECKOV, else from its own environment inside the test venv, else on PATH."""
    configured = os.environ.get("CHECKOV")
    candidates = [configured] if configured else [str(CHECKOV_ENV / "bin" / "checkov"), shutil.which("checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return [candidate]
    install = f"{sys.executable} -m venv {CHECKOV_ENV} && {CHECKOV_ENV}/bin/pip install -r {CHECKOV_REQUIREMENTS}"
    pytest.fail(f"checkov is not installed: run `{install}`, or set CHECKOV to its path")


def start_checkov(directory: Path, cwd: Path) -> subprocess.Popen[str]:
    """checkov on the Bicep under directory, run from cwd: a clean folder, so that no .checkov.yaml can skip checks
    (every skip must be a comment in the template). --skip-download: no network, no Prisma Cloud mappings."""
    command = [*checkov_command(), "--framework", "bicep", "--directory", str(directory), "--output", "json"]
    return subprocess.Popen(
        [*command, "--skip-download"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@dataclass(frozen=True)
class CheckovRun:
    report: Json
    log: str

    def crashed_checks(self) -> list[str]:
        """Checks that raised instead of giving a result. checkov only logs them (and still exits 0), so a template
        shape that a check cannot read silently removes that check from the gate."""
        return [
            line.split("Failed to run check ", 1)[1] for line in self.log.splitlines() if "Failed to run check " in line
        ]


def checkov_run(run: subprocess.Popen[str]) -> CheckovRun:
    stdout, stderr = run.communicate(timeout=300)
    # 0: no failed check, 1: failed checks. Careful: a file checkov cannot parse does not change the exit code.
    assert run.returncode in (0, 1), f"checkov exited {run.returncode}: {stderr[-3000:]}"
    report = json.loads(stdout)
    reports = report if isinstance(report, list) else [report]
    bicep = [r for r in reports if r.get("check_type") == "bicep"]
    assert len(bicep) == 1, f"checkov produced no bicep report: {stdout[:2000]}"
    return CheckovRun(report=bicep[0], log=stderr)
