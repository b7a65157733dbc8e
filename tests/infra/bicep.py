"""The Bicep templates in infra/ as data (pycep's JSON, the same across pycep versions) and checkov's report on them.

pycep writes identifiers and string literals alike as JSON strings (`name: x` and `name: 'x'` both give "x"), so
tests compare against the names they expect, not against types.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def resolve_names(expression: Json) -> list[Json]:
    """What a main.bicep expression listing names evaluates to, as far as the tests need: variables, properties of
    a loadJsonContent() variable, literal lists and concat(); anything else is returned as it stands."""
    variables = template("main.bicep")["variables"]
    if isinstance(expression, list):
        return [name for item in expression for name in resolve_names(item)]
    if isinstance(expression, dict) and expression.get("function", {}).get("type") == "concat":
        return [name for arg in expression["function"]["parameters"].values() for name in resolve_names(arg)]
    if isinstance(expression, str):
        variable, _, attribute = expression.partition(".")
        if variable in variables:
            value = variables[variable]["value"]
            loaded = isinstance(value, dict) and value.get("function", {}).get("type") == "load_json_content"
            if loaded and attribute:
                data = json.loads((INFRA / value["function"]["parameters"]["file_path"]).read_text())
                return list(data[attribute])
            if not attribute:
                return resolve_names(value)
    return [expression]


def checkov_command() -> list[str]:
    """checkov from $CHECKOV, else beside this Python, else on PATH."""
    configured = os.environ.get("CHECKOV")
    candidates = (
        [configured] if configured else [str(Path(sys.executable).with_name("checkov")), shutil.which("checkov")]
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return [candidate]
    pytest.fail("checkov is not installed: run `pip install -r requirements-dev.txt`, or set CHECKOV to its path")


def start_checkov(directory: Path, cwd: Path) -> subprocess.Popen[str]:
    """checkov on the Bicep under directory, run from cwd: a clean folder, so that no .checkov.yaml can skip checks
    (every skip must be a comment in the template). --skip-download: no network, no Prisma Cloud mappings."""
    command = [*checkov_command(), "--framework", "bicep", "--directory", str(directory), "--output", "json"]
    return subprocess.Popen(
        [*command, "--skip-download"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def checkov_report(run: subprocess.Popen[str]) -> Json:
    stdout, stderr = run.communicate(timeout=300)
    # 0: no failed check, 1: failed checks. Careful: a file checkov cannot parse does not change the exit code.
    assert run.returncode in (0, 1), f"checkov exited {run.returncode}: {stderr[-3000:]}"
    report = json.loads(stdout)
    reports = report if isinstance(report, list) else [report]
    bicep = [r for r in reports if r.get("check_type") == "bicep"]
    assert len(bicep) == 1, f"checkov produced no bicep report: {stdout[:2000]}"
    return bicep[0]
