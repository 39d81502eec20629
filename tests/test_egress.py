"""The egress guard's decisions, made with an injected resolver: no request and no DNS query
leaves the test."""

from __future__ import annotations

import pytest

from loopwright.egress import EgressDenied, EgressGuard


class FakeDNS:
    """A resolver from a fixed table; names outside it fail as unknown names do."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.asked: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"fake DNS: {host} is not in the table")
        return self.table[host]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/",
        "http://10.255.255.254:8080/x",
        "http://172.16.0.1/",
        "http://172.31.255.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/",
        "http://127.1.2.3/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "https://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::]/",
    ],
)
async def test_internal_addresses_are_refused(url: str) -> None:
    dns = FakeDNS()
    with pytest.raises(EgressDenied) as caught:
        await EgressGuard(resolver=dns).check_url(url)
    assert caught.value.code == "egress_denied"
    assert caught.value.status == 422
    assert dns.asked == []  # an address literal is decided without resolving


@pytest.mark.parametrize(
    "host", ["metadata.google.internal", "metadata", "Metadata.Google.Internal."]
)
async def test_metadata_hosts_are_refused_by_name(host: str) -> None:
    dns = FakeDNS({"metadata.google.internal": ["8.8.8.8"], "metadata": ["8.8.8.8"]})
    with pytest.raises(EgressDenied, match="metadata"):
        await EgressGuard(resolver=dns).check_url(f"http://{host}/computeMetadata/v1/")
    assert dns.asked == []


async def test_a_name_is_judged_by_the_addresses_it_resolves_to() -> None:
    dns = FakeDNS(
        {
            "intranet.example": ["10.0.0.5"],
            "split.example": ["8.8.8.8", "192.168.0.10"],
            "v6-loop.example": ["::1"],
            "mapped.example": ["::ffff:10.1.1.1"],
            "public.example": ["8.8.8.8", "2001:4860:4860::8888"],
            "nothing.example": [],
        }
    )
    guard = EgressGuard(resolver=dns)
    for host in ("intranet.example", "split.example", "v6-loop.example", "mapped.example"):
        with pytest.raises(EgressDenied, match="internal address") as caught:
            await guard.check_url(f"https://{host}/hook")
        assert caught.value.details["host"] == host
    await guard.check_url("https://Public.Example./hook")  # allowed: every address is public
    for host in ("nothing.example", "unknown.example"):
        with pytest.raises(EgressDenied, match="cannot resolve"):
            await guard.check_url(f"https://{host}/")
    assert dns.asked == [
        "intranet.example",
        "split.example",
        "v6-loop.example",
        "mapped.example",
        "public.example",
        "nothing.example",
        "unknown.example",
    ]
    assert caught.value.details["addresses"] == ["::ffff:10.1.1.1"]


async def test_public_addresses_pass() -> None:
    guard = EgressGuard(resolver=FakeDNS())
    for url in ("http://8.8.8.8/", "https://[2001:4860:4860::8888]:8443/x", "http://1.1.1.1:80"):
        await guard.check_url(url)


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://8.8.8.8/", "gopher://8.8.8.8/", "http:///no-host", "not a url"],
)
async def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(EgressDenied, match="only http"):
        await EgressGuard(resolver=FakeDNS()).check_url(url)


async def test_the_operator_allows_cidrs_and_host_names() -> None:
    dns = FakeDNS({"db.internal": ["10.2.0.7"], "other.internal": ["10.3.0.1"]})
    guard = EgressGuard.from_setting("127.0.0.1/32, 10.2.0.0/16 ,hooks.internal,", resolver=dns)
    await guard.check_url("http://127.0.0.1:9/x")
    await guard.check_url("http://[::ffff:127.0.0.1]/")  # the same address, written as IPv6
    await guard.check_url("http://10.2.3.4/")
    await guard.check_url("http://db.internal/")  # resolves into an allowed network
    await guard.check_url("http://HOOKS.internal./x")  # allowed by name, never resolved
    for url in (
        "http://127.0.0.2/",
        "http://[::1]/",
        "http://10.3.0.1/",
        "http://other.internal/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(EgressDenied):
            await guard.check_url(url)
    assert dns.asked == ["db.internal", "other.internal"]


async def test_an_allowed_network_does_not_open_the_metadata_names() -> None:
    dns = FakeDNS({"metadata.google.internal": ["169.254.169.254"]})
    guard = EgressGuard(["169.254.0.0/16"], resolver=dns)
    await guard.check_url("http://169.254.169.254/")
    with pytest.raises(EgressDenied, match="metadata"):
        await guard.check_url("http://metadata.google.internal/")
