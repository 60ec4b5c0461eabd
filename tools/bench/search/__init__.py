"""The search benchmark, `python -m tools.bench.search`: `logferry search` over millions of
mail transactions, timed on the local OpenSearch.

    corpus    the mail transactions, generated deterministically and reduced by the real code
    loading   into throwaway day indices, bulk requests in flight while the next are built
    queries   an analyst's searches over the last week, timed cold and warm
    cli       the command line
"""
