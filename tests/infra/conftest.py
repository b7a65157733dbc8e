"""checkov's reports, made once per session: on infra/, and on a template with a syntax error (to show that such an
error is caught). Both run at once; together they take about as long as one (3-4 s)."""

from __future__ import annotations

import pytest

from tests.infra.bicep import INFRA, CheckovRun, checkov_run, start_checkov

# An object that is never closed: checkov cannot parse it.
BROKEN_BICEP = """\
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stbroken'
  properties: {
    minimumTlsVersion: 'TLS1_2'
"""


@pytest.fixture(scope="session")
def checkov_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckovRun]:
    broken = tmp_path_factory.mktemp("broken-bicep")
    (broken / "broken.bicep").write_text(BROKEN_BICEP)
    cwd = tmp_path_factory.mktemp("checkov-cwd")
    runs = {"infra": start_checkov(INFRA, cwd), "broken": start_checkov(broken, cwd)}
    return {name: checkov_run(run) for name, run in runs.items()}
