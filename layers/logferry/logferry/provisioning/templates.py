"""The index templates of logferry's indices: ECS fields typed from the formats' mappings,
undeclared strings as keyword, date detection off; the primaries of each source and the
replicas from the layout (logferry.output.layout).

- `<prefix>-logferry` matches `<prefix>-*` (priority 100): every index of a source the layout
  does not name, with one primary, as before there was a layout.
- `<prefix>-logferry-<source>` matches `<prefix>-<source>-*` for each source the layout names,
  with that source's primaries. Its priority grows with the source's length, so where one
  source's pattern also matches another's indices (`logs-alb-*` matches
  `logs-alb-connection-2026.12.02`) the longer, exact one wins; two sources of one length
  never match the same name, so no two templates of one priority overlap (which OpenSearch
  refuses). A source the layout does not name but whose indices a named source's pattern
  matches (alb-connection when alb is named) gets a template of its own too, with the
  catch-all's one primary: without it, alb's template would shard alb-connection's indices.
- A source dropped from the layout loses its template at the next `logferry setup`; its
  indices keep their settings (templates act when an index is created).

Rejected alternatives: one template per source the registry knows, named in the layout or not
(a dozen templates on every cluster for nothing the catch-all does not already do); a component
template holding the shared mappings (one more object whose removal must wait for every index
template using it, for some 20 KB of cluster state per source saved).
"""

from __future__ import annotations

from typing import Any

from ..formats import index_properties
from ..output.layout import IndexLayout, source_kinds

CATCH_ALL_PRIORITY = 100
MANAGED_BY = "logferry"


def template_name(prefix: str, source: str | None = None) -> str:
    """The catch-all template's name, or that of one source's template."""
    return f"{prefix}-logferry" if source is None else f"{prefix}-logferry-{source}"


def source_priority(source: str) -> int:
    """The priority of a source's own index template and ISM template (provisioning.retention):
    above the catch-all's, and the higher the longer the source's name."""
    return CATCH_ALL_PRIORITY + len(source)


def index_template(
    prefix: str, *, source: str | None = None, shards: int = 1, replicas: int = 1
) -> dict[str, Any]:
    """The catch-all template (`source` None), or the template of one source's indices."""
    meta = {"managed_by": MANAGED_BY, "prefix": prefix}
    if source is not None:
        meta["source"] = source
    return {
        "index_patterns": [f"{prefix}-*" if source is None else f"{prefix}-{source}-*"],
        "priority": CATCH_ALL_PRIORITY if source is None else source_priority(source),
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": shards,
                    "number_of_replicas": replicas,
                    "refresh_interval": "5s",
                    "mapping": {"total_fields": {"limit": 3000}},
                    "codec": "best_compression",
                }
            },
            "mappings": {
                "dynamic": True,
                "date_detection": False,
                # Fields a format does not declare are exact-match keywords, never text:
                # aggregations work on them and no analyser runs at ingest.
                "dynamic_templates": [
                    {
                        "strings_as_keyword": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": index_properties(),
            },
        },
        "_meta": meta,
    }


def layout_templates(
    prefix: str, layout: IndexLayout, replicas: int = 1, known: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Every template `setup` writes for this layout, by name: the catch-all first. `known`:
    every source name (default: the format registry's)."""
    templates = {template_name(prefix): index_template(prefix, shards=1, replicas=replicas)}
    named = [name for name, _ in layout.sources]
    if known is None:
        known = list(source_kinds()) if named else []
    covered = [
        other
        for other in known
        if other not in named and any(other.startswith(f"{name}-") for name in named)
    ]
    for source in named + covered:
        templates[template_name(prefix, source)] = index_template(
            prefix, source=source, shards=layout.of(source).primary_shards, replicas=replicas
        )
    return templates


def apply_templates(client: Any, prefix: str, layout: IndexLayout, replicas: int) -> list[str]:
    """Write the layout's templates (each PUT whole: the same body gives the same result) and
    delete the source templates of this prefix the layout no longer asks for."""
    done = []
    wanted = layout_templates(prefix, layout, replicas)
    for name, body in wanted.items():
        client.indices.put_index_template(name=name, body=body)
        line = f"index template {name} for {body['index_patterns'][0]}"
        source = body["_meta"].get("source")
        if source:
            shape = layout.of(source)
            primaries = "primary" if shape.primary_shards == 1 else "primaries"
            copies = "replica" if replicas == 1 else "replicas"
            line += (
                f": {shape.primary_shards} {primaries} with {replicas} {copies} each, an index"
                f" by the {shape.period.value}"
            )
        done.append(line)
    for name in _source_templates(client, prefix):
        if name not in wanted:
            client.indices.delete_index_template(name=name)
            done.append(f"index template {name} deleted: its source is no longer in the layout")
    return done


def _source_templates(client: Any, prefix: str) -> list[str]:
    """The names of the source templates `setup` wrote for this prefix."""
    try:
        found = client.indices.get_index_template(name=template_name(prefix, "*"))
    except Exception as exc:
        if getattr(exc, "status_code", None) == 404:
            return []
        raise
    return [
        entry["name"]
        for entry in found.get("index_templates", [])
        if (entry["index_template"].get("_meta") or {}).get("managed_by") == MANAGED_BY
        and entry["index_template"]["_meta"].get("prefix") == prefix
        and entry["index_template"]["_meta"].get("source")
    ]
