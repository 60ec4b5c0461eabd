"""The one TLS-version table (formats.base.TLS_VERSIONS) and `tls_version`: the busy formats
look a value up in the table and read it with `tls_version` only on a miss, so the two must
agree on every spelling the table holds."""

from __future__ import annotations

import pytest

from logferry.formats.base import TLS_VERSIONS, tls_version


@pytest.mark.parametrize("spelling", sorted(TLS_VERSIONS))
def test_the_table_says_what_tls_version_reads_from_the_same_spelling(spelling: str) -> None:
    other_case = spelling.swapcase()  # not in the table: read, not looked up
    assert other_case not in TLS_VERSIONS
    assert tls_version(other_case) == TLS_VERSIONS[spelling] == tls_version(spelling)


@pytest.mark.parametrize("value", ["-", "", "SSLv3", "TLSv", "TLSv1.2.1", "DTLSv1.2", "tls1.2"])
def test_what_is_not_a_tls_version_reads_as_none(value: str) -> None:
    assert tls_version(value) is None
