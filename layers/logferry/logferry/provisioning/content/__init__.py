"""What `logferry setup` installs besides the index template, shipped inside the package.

  dashboards/*.ndjson   OpenSearch Dashboards saved objects (index patterns, searches,
                        visualizations, dashboards), written for the index prefix `logs`
  monitors/*.json       OpenSearch Alerting monitors with `${name}` placeholders
  sql/*.sql             the analysts' investigation queries for the SQL plugin

Read through importlib.resources, so the files are found wherever the package is (wheel,
Lambda layer, source tree).
"""

from __future__ import annotations

from importlib.resources import files


def texts(kind: str, suffix: str) -> list[tuple[str, str]]:
    """(file name, text) of every `<kind>/*<suffix>` file, in name order."""
    folder = files(__name__) / kind
    found = [entry for entry in folder.iterdir() if entry.name.endswith(suffix)]
    return [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(found, key=lambda entry: entry.name)
    ]


def sql(prefix: str = "logs") -> dict[str, str]:
    """The SQL queries by name (file stem), for indices under `prefix` instead of `logs`, as the
    SQL endpoint takes them: one statement, no comment lines, no trailing semicolon."""
    queries = {}
    for name, text in texts("sql", ".sql"):
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        statement = "\n".join(lines).strip().removesuffix(";")
        queries[name.removesuffix(".sql")] = statement.replace("`logs-", f"`{prefix}-")
    return queries
