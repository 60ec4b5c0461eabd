"""Documents into OpenSearch: the client, index names, the bulk sink and its retries."""
