"""logferry: S3 log objects to OpenSearch documents.

The package is laid out by concern, in the order data flows through it:
events (notifications -> ObjectRef), reader (bytes -> lines), formats (lines -> documents),
sink (documents -> OpenSearch _bulk), deadletter (what could not be indexed), pipeline (the
composition), with setup (templates, policies) and cli on the side.
"""

__version__ = "0.1.0"
