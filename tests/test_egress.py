"""The egress guard's decisions, made with an injected resolver: no request and no DNS query
leaves the test."""

from __future__ import annotations

import ipaddress
import re

import pytest

from loopwright.egress import EgressDenied, EgressGuard, url_problem
from loopwright.egress.addresses import embedded_ipv4
from tests.llm.helpers import Clock


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


# -- IPv6 addresses that carry an IPv4 address --------------------------------------------------

METADATA_V4 = "169.254.169.254"  # a9fe:a9fe


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::ffff:169.254.169.254", [METADATA_V4]),  # IPv4-mapped
        ("::a9fe:a9fe", [METADATA_V4]),  # IPv4-compatible
        ("64:ff9b::a9fe:a9fe", [METADATA_V4]),  # NAT64, well-known prefix
        ("2002:a9fe:a9fe::", [METADATA_V4]),  # 6to4
        ("2002:a9fe:a9fe:1:2:3:4:5", [METADATA_V4]),
        # Teredo: the server in bits 32-63, the client inverted in the last 32 bits
        ("2001:0:808:808:0:0:5601:5601", ["8.8.8.8", METADATA_V4]),
        ("2001:4860:4860::8888", []),  # an ordinary global address
    ],
)
def test_the_ipv4_addresses_an_ipv6_address_carries(address: str, carried: list[str]) -> None:
    found = embedded_ipv4(ipaddress.IPv6Address(address))
    assert [str(ip) for ip in found] == carried


@pytest.mark.parametrize(
    "address",
    [
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b:1::808:808",  # local-use NAT64: refused outright
        "::a9fe:a9fe",  # IPv4-compatible
        "::808:808",  # IPv4-compatible of a public address: deprecated, refused
        "::ffff:a9fe:a9fe",  # IPv4-mapped
        "2001:0:808:808:0:0:5601:5601",  # Teredo, client 169.254.169.254
        "2001:0:a00:1:0:0:f7f7:f7f7",  # Teredo, server 10.0.0.1
    ],
)
def test_an_ipv6_address_carrying_an_internal_ipv4_address_is_refused(address: str) -> None:
    assert EgressGuard().address_allowed(address) is False


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8: an IPv6-only network's way to a public host
        "::ffff:8.8.8.8",
        "2001:4860:4860::8888",
    ],
)
def test_an_ipv6_address_carrying_a_public_ipv4_address_passes(address: str) -> None:
    assert EgressGuard().address_allowed(address) is True


def test_the_allow_list_opens_a_carried_address_only_where_it_stands_for_it() -> None:
    guard = EgressGuard(["10.2.0.0/16"])
    assert guard.address_allowed("::ffff:10.2.3.4")  # the same socket address
    assert guard.address_allowed("64:ff9b::a02:304")  # translated to 10.2.3.4
    assert guard.address_allowed("2002:a02:304::")  # relayed to 10.2.3.4
    assert not guard.address_allowed("2002:a03:304::")  # 10.3.3.4 is not allowed
    assert not guard.address_allowed("64:ff9b:1::a02:304")  # local-use NAT64


async def test_a_name_resolving_to_a_6to4_metadata_address_is_refused() -> None:
    dns = FakeDNS({"sneaky.example": ["2002:a9fe:a9fe::"]})
    with pytest.raises(EgressDenied, match="internal address") as caught:
        await EgressGuard(resolver=dns).check_url("http://sneaky.example/")
    assert caught.value.details["addresses"] == ["2002:a9fe:a9fe::"]
    with pytest.raises(EgressDenied):
        await EgressGuard(resolver=FakeDNS()).check_url("http://[2002:a9fe:a9fe::]/latest")


# -- malformed hosts are refused, never an exception -----------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[", "not a valid URL"),
        ("http://[::g]/", "not a valid URL"),
        ("http://example.com:70000/", "not a valid URL"),
        ("http://example.com:0/", "port 0 is out of range"),
        ("http://example.com:x/", "not a valid URL"),
        (f"http://{'a' * 64}.example/", "has 64 characters; at most 63"),
        ("http://" + ".".join(["a" * 50] * 5) + "/", "has 254 characters; at most 253"),
        ("http://a..b/", "not a valid host name"),
        ("http://a_b!.example/", "not a valid host name"),
        ("http://\ufffd.example/", "not a valid URL"),
        ("http://\u2603.example/", "not a valid URL"),  # valid in IDNA 2003, not in 2008
        ("ftp://example.com/", "only http(s)"),
        ("http:///x", "only http(s)"),
    ],
)
async def test_a_malformed_url_is_refused_before_any_lookup(url: str, reason: str) -> None:
    assert reason in (url_problem(url) or "")
    dns = FakeDNS()
    with pytest.raises(EgressDenied, match=re.escape(reason)) as caught:
        await EgressGuard(resolver=dns).check_url(url)
    assert caught.value.code == "egress_denied"
    assert dns.asked == []


@pytest.mark.parametrize(
    "url",
    [
        "http://" + ".".join(["a" * 63] * 3) + "." + "a" * 61 + "/",  # 253 characters
        f"https://{'a' * 63}.example:65535/x",
        "http://xn--zca.de/",
        "http://\u00df.de/",  # IDNA 2008: xn--zca
        "http://under_score.example/",
        "http://example.com./",
        "http://[2001:db8::1]:8080/",
        "http://127.0.0.1:1/",
    ],
)
def test_well_formed_urls_have_no_problem(url: str) -> None:
    assert url_problem(url) is None


async def test_a_resolver_failing_on_a_name_is_a_refusal() -> None:
    async def picky(host: str) -> list[str]:
        raise UnicodeError(f"cannot encode {host}")

    with pytest.raises(EgressDenied, match="cannot resolve"):
        await EgressGuard(resolver=picky).check_url("http://fine.example/")


async def test_the_guard_judges_the_host_the_client_will_connect_to() -> None:
    """The host is read as httpx2 reads it (IDNA 2008, full-width dots), not as urlsplit does."""
    dns = FakeDNS({"xn--zca.de": ["8.8.8.8"], "foo.bar": ["10.0.0.1"]})
    guard = EgressGuard(resolver=dns)
    await guard.check_url("http://\u00df.de/")
    with pytest.raises(EgressDenied, match="internal address"):
        await guard.check_url("http://foo\u3002bar/")  # the client connects to foo.bar
    assert dns.asked == ["xn--zca.de", "foo.bar"]


# -- a checked lookup is remembered briefly ------------------------------------------------------


async def test_a_checked_lookup_is_used_again_until_it_expires() -> None:
    dns = FakeDNS({"api.example": ["8.8.8.8"]})
    clock = Clock()
    guard = EgressGuard(resolver=dns, remember_s=30, clock=clock)
    assert await guard.addresses("api.example") == ["8.8.8.8"]
    await guard.check_url("https://API.example./v1")
    clock.now += 29.9
    assert await guard.addresses("api.example.") == ["8.8.8.8"]
    assert dns.asked == ["api.example"]

    dns.table["api.example"] = ["10.0.0.1"]  # the name now points inside
    clock.now += 0.2
    with pytest.raises(EgressDenied, match="internal address"):
        await guard.addresses("api.example")
    with pytest.raises(EgressDenied):  # a refusal is not remembered as an answer
        await guard.addresses("api.example")
    assert dns.asked == ["api.example"] * 3


async def test_a_name_allowed_by_the_operator_is_resolved_but_not_judged() -> None:
    dns = FakeDNS({"hooks.internal": ["10.9.0.1"]})
    guard = EgressGuard(["hooks.internal"], resolver=dns)
    await guard.check_url("http://hooks.internal/x")
    assert dns.asked == []  # nothing to decide
    assert await guard.addresses("hooks.internal") == ["10.9.0.1"]  # where to connect
