"""Webhook deliveries reach only the public address that was checked: DNS rebinding, IPv4 inside IPv6,
ports, the TLS server name and Host header, what the merchant's log says, the claim and re-sends."""

import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from integrations import services
from integrations.apis import WebhookResendThrottle
from integrations.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.services import deliveries
from tests.integrations.receiver import Receiver

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def endpoint(organization, org_admin, receiver) -> WebhookEndpoint:
    return services.webhook_endpoint_create(
        actor=org_admin, organization=organization, url=receiver.url, events=WebhookEvent.values
    )


def fake_resolver(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve the named hosts to the next address of their list (the last one repeats); returns
    the hosts asked for, in order."""
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        asked.append(host)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port or 0, 0, 0) if family == socket.AF_INET6 else (address, port or 0)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def deliver(endpoint: WebhookEndpoint, capture: Callable[..., Any]) -> WebhookDelivery:
    with capture(execute=True):
        (delivery,) = services.webhook_event_emit(
            event=WebhookEvent.ENTRY_GRANTED, organization_id=endpoint.organization_id, data={}
        )
    return WebhookDelivery.objects.get(pk=delivery.pk)


# The address guard


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",  # IPv4-compatible loopback
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "[::ffff:169.254.169.254]",  # the cloud metadata service
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[64:ff9b::a01:203]",  # NAT64 of 10.1.2.3
        "[64:ff9b:1::a01:203]",  # a network's own NAT64 prefix
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
        "[2002:c0a8:101::1]",  # 6to4 of 192.168.1.1
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_address_refusal__private_ipv4_inside_ipv6_or_special__is_refused(settings, host):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    assert services.webhook_address_refusal(f"https://{host}/hooks") == "refused: not a public address"


@pytest.mark.parametrize(
    "host", ["93.184.215.14", "[64:ff9b::5db8:d70e]", "[2002:5db8:d70e::1]", "[2606:4700::1111]"]
)
def test_address_refusal__public_address_also_inside_ipv6__is_allowed(settings, host):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    assert services.webhook_address_refusal(f"https://{host}/hooks") == ""


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://93.184.215.14/h", False),
        ("http://93.184.215.14/h", False),
        ("https://93.184.215.14:443/h", False),
        ("http://93.184.215.14:8080/h", True),
        ("https://93.184.215.14:22/h", True),
        ("https://93.184.215.14:99999/h", True),
    ],
)
def test_address_refusal__port_outside_the_allowed__is_refused(settings, url, refused):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    settings.WEBHOOK_ALLOWED_PORTS = [80, 443]
    expected = "refused: port not allowed" if refused else ""
    assert services.webhook_address_refusal(url) == expected


def test_address_refusal__a_name_with_one_private_answer__is_refused(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

    def two_answers(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    assert services.webhook_address_refusal("https://mixed.example/h") == "refused: not a public address"


# DNS rebinding: the connection goes to the address that was checked


@pytest.mark.django_db
def test_delivery__name_answers_public_then_loopback__never_reaches_loopback(
    settings, monkeypatch, endpoint, receiver, django_capture_on_commit_callbacks
):
    # Given production's guard, and a name that answers a public address first and 127.0.0.1 next
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    # (no traffic leaves this machine: connections to any address but 127.0.0.1 are refused here)
    connected: list[tuple[str, int]] = []
    real_create_connection = socket.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connected.append(address)
        if address[0] not in ("127.0.0.1", "rebind.example"):
            raise ConnectionRefusedError(111, "Connection refused")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    asked = fake_resolver(monkeypatch, {"rebind.example": ["93.184.215.14", "127.0.0.1"]})
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://rebind.example:{receiver.port}/hooks")
    # When a delivery is attempted
    delivery = deliver(endpoint, django_capture_on_commit_callbacks)
    # Then the name was resolved once, the connection went to the checked address, and the
    # receiver on 127.0.0.1 heard nothing
    assert asked == ["rebind.example"]
    assert connected == [("93.184.215.14", receiver.port)]
    assert receiver.requests == []
    assert delivery.attempt_log.get().response_status is None


@pytest.mark.django_db
def test_delivery__host_header_is_the_urls_host_while_connecting_to_its_checked_address(
    monkeypatch, endpoint, receiver, django_capture_on_commit_callbacks
):
    fake_resolver(monkeypatch, {"hooks.partner.example": ["127.0.0.1"]})
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        url=f"http://hooks.partner.example:{receiver.port}/hooks?source=portal"
    )
    delivery = deliver(endpoint, django_capture_on_commit_callbacks)
    assert delivery.state == DeliveryState.DELIVERED
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"hooks.partner.example:{receiver.port}"
    assert request["path"] == "/hooks?source=portal"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str | None]]]:
    """A TLS server on 127.0.0.1 with a self-signed certificate, recording each client's server name."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=hooks.partner.example"],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(client, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, names
    listener.close()


@pytest.mark.django_db
def test_delivery__https__sends_the_urls_host_as_tls_server_name(
    monkeypatch, endpoint, tls_server, django_capture_on_commit_callbacks
):
    port, names = tls_server
    fake_resolver(monkeypatch, {"hooks.partner.example": ["127.0.0.1"]})
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"https://hooks.partner.example:{port}/hooks")
    delivery = deliver(endpoint, django_capture_on_commit_callbacks)
    # The self-signed certificate fails verification; the server name was the URL's host all the same
    assert names == ["hooks.partner.example"]
    attempt = delivery.attempt_log.get()
    assert attempt.response_status is None and "CERTIFICATE_VERIFY_FAILED" in attempt.error


# What the merchant sees


@pytest.mark.django_db
def test_delivery_log__refused_private_address__says_not_public_without_the_dns_answer(
    settings, monkeypatch, org_admin, endpoint, receiver, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    fake_resolver(monkeypatch, {"intranet.partner.example": ["10.20.30.40"]})
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="https://intranet.partner.example/hooks")
    deliver(endpoint, django_capture_on_commit_callbacks)
    client = APIClient()
    client.force_authenticate(org_admin)
    body = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()
    (attempt,) = body["results"][0]["attempt_log"]
    assert attempt["error"] == "refused: not a public address"
    assert "10.20.30.40" not in str(body)
    assert receiver.requests == []


# The claim locks the delivery only


@pytest.mark.django_db(transaction=True)
def test_claim__another_delivery_to_the_endpoint_being_claimed__is_not_skipped(
    postgres, monkeypatch, organization, org_admin, receiver
):
    # Given two due deliveries to one endpoint, not yet queued
    monkeypatch.setattr(deliveries, "_enqueue", lambda *args, **kwargs: None)
    endpoint = services.webhook_endpoint_create(
        actor=org_admin, organization=organization, url=receiver.url, events=WebhookEvent.values
    )
    with transaction.atomic():
        first, second = (
            services.webhook_event_emit(
                event=WebhookEvent.ENTRY_GRANTED, organization_id=organization.pk, data={}
            )[0]
            for _ in range(2)
        )
    # And another worker holding the first delivery's claim open (the rows a claim locks)
    locked, release = threading.Event(), threading.Event()

    def hold_first_claim() -> None:
        try:
            with transaction.atomic():
                WebhookDelivery.objects.filter(pk=first.pk).select_for_update(of=("self",)).select_related(
                    "endpoint"
                ).get()
                WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first_claim)
    holder.start()
    try:
        assert locked.wait(10)
        # When this worker attempts the second delivery
        attempt = services.webhook_delivery_attempt(delivery_id=second.pk)
        # Then it is sent, and the first is left to its claimant
        assert attempt is not None and attempt.succeeded
        assert services.webhook_delivery_attempt(delivery_id=first.pk) is None
    finally:
        release.set()
        holder.join()
    assert len(receiver.requests) == 1


# Re-sends are limited per endpoint


@pytest.mark.django_db
def test_resend__over_the_endpoints_limit__is_429_with_retry_after(monkeypatch, org_admin, organization):
    monkeypatch.setattr(WebhookResendThrottle, "THROTTLE_RATES", {"webhook_resend": "3/hour"})
    endpoint = services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://partner.example.com/h",
        events=["profile_link.live"],
    )
    (delivery,) = services.webhook_event_emit(
        event=WebhookEvent.LINK_LIVE, organization_id=organization.pk, data={}
    )
    client = APIClient()
    client.force_authenticate(org_admin)
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/"
    statuses = [client.post(url).status_code for _ in range(3)]
    refused = client.post(url)
    assert statuses == [202, 202, 202]
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/problem+json")
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["status"] == 429


@pytest.mark.django_db
def test_create__url_with_a_port_outside_the_allowed__is_400_naming_url(settings, org_admin, organization):
    settings.WEBHOOK_ALLOWED_PORTS = [80, 443]
    client = APIClient()
    client.force_authenticate(org_admin)
    refused = client.post(
        "/api/v1/webhooks/",
        {
            "url": "https://partner.example.com:8443/h",
            "events": ["profile_link.live"],
            "organization": organization.pk,
        },
        format="json",
    )
    allowed = client.post(
        "/api/v1/webhooks/",
        {
            "url": "https://partner.example.com:443/h",
            "events": ["profile_link.live"],
            "organization": organization.pk,
        },
        format="json",
    )
    assert refused.status_code == 400 and "url" in refused.json()["errors"]
    assert allowed.status_code == 201
    assert list(WebhookEndpoint.objects.values_list("url", flat=True)) == [
        "https://partner.example.com:443/h"
    ]
