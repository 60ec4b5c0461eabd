"""The index template of every logferry index: ECS fields typed from the formats' mappings,
undeclared strings as keyword, date detection off."""

from __future__ import annotations

from typing import Any

from ..formats import index_properties


def template_name(prefix: str) -> str:
    return f"{prefix}-logferry"


def index_template(prefix: str) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 100,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
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
        "_meta": {"managed_by": "logferry"},
    }
