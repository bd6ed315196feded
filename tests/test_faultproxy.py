"""The fault-injecting proxy: request classification, AWS-shaped errors that
botocore parses to the real codes, fractions, durations, control API, CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from aiohttp.test_utils import make_mocked_request
from botocore import parsers
from botocore.awsrequest import HeadersDict
from botocore.config import Config
from botocore.exceptions import ClientError

from channels.errors import from_botocore
from channels.exceptions import ProviderUnavailable, Throttled
from streams.faultproxy import FaultProxy, error_response, service_of
from tests.channels.motoserver import AWS_TEST_ENV, free_port, moto_reset, running_moto_server

SCOPE = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, Signature=x"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    with running_moto_server() as url:
        yield url


@pytest.fixture
def moto_url(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    moto_reset(moto_server)
    return moto_server


@pytest.mark.parametrize(("method", "path", "headers", "body", "service"), [
    ("POST", "/", {"Authorization": SCOPE.format("sns")}, b"Action=Publish", "sns"),
    ("POST", "/v2/email/outbound-emails", {"Authorization": SCOPE.format("ses")}, b"{}", "ses"),
    ("POST", "/v2/email/outbound-emails", {}, b"{}", "ses"),
    ("POST", "/", {"X-Amz-Target": "PinpointSMSVoiceV2.SendTextMessage"}, b"{}", "sms-voice"),
    ("POST", "/", {"Host": "sns.us-east-1.amazonaws.com"}, b"", "sns"),
    ("POST", "/", {"Host": "email.us-east-1.amazonaws.com"}, b"", "ses"),
    ("POST", "/", {}, b"Action=Publish&PhoneNumber=%2B8613812345678", "sns"),
    ("POST", "/", {}, b"Action=SendEmail&Source=a%40b.example", "ses"),
    ("GET", "/moto-api/data.json", {}, b"", "other"),
])
def test_service_of(method: str, path: str, headers: dict[str, str], body: bytes,
                    service: str) -> None:
    request = make_mocked_request(method, path, headers={"Host": "127.0.0.1:15001", **headers})
    assert service_of(request, body) == service


def parse_error(service: str, operation: str, path: str, headers: dict[str, str],
                kind: str) -> dict[str, Any]:
    """What botocore makes of the proxy's error answer to ``service``."""
    request = make_mocked_request("POST", path, headers=headers)
    response = error_response(request, "ses" if service.startswith("ses") else service, kind)
    model = botocore.session.get_session().get_service_model(service)
    parsed = parsers.create_parser(model.protocol).parse(
        {"status_code": response.status, "headers": HeadersDict(response.headers),
         "body": response.body}, model.operation_model(operation).output_shape)
    return parsed  # type: ignore[no-any-return]


@pytest.mark.parametrize(("service", "operation", "path", "headers", "kind", "code", "status"), [
    ("sesv2", "SendEmail", "/v2/email/outbound-emails", {}, "throttle",
     "TooManyRequestsException", 429),
    ("sesv2", "SendEmail", "/v2/email/outbound-emails", {}, "5xx", "ServiceUnavailable", 503),
    ("ses", "SendEmail", "/", {}, "throttle", "Throttling", 400),
    ("sns", "Publish", "/", {}, "throttle", "Throttling", 400),
    ("sns", "Publish", "/", {}, "5xx", "ServiceUnavailable", 503),
    ("pinpoint-sms-voice-v2", "SendTextMessage", "/",
     {"X-Amz-Target": "PinpointSMSVoiceV2.SendTextMessage"}, "throttle",
     "ThrottlingException", 400),
    ("pinpoint-sms-voice-v2", "SendTextMessage", "/",
     {"X-Amz-Target": "PinpointSMSVoiceV2.SendTextMessage"}, "5xx",
     "InternalServerException", 503),
])
def test_errors_are_shaped_like_aws(service: str, operation: str, path: str,
                                    headers: dict[str, str], kind: str, code: str,
                                    status: int) -> None:
    parsed = parse_error(service, operation, path, headers, kind)
    assert parsed["Error"]["Code"] == code
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
    mapped = from_botocore(ClientError(parsed, operation), service)  # type: ignore[arg-type]
    assert isinstance(mapped, Throttled if kind == "throttle" else ProviderUnavailable)


def sns_client(url: str) -> Any:
    return boto3.client("sns", endpoint_url=url, region_name="us-east-1",
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=2))


def publish(client: Any) -> str:
    try:
        client.publish(PhoneNumber="+8613812345678", Message="hi")
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def run_with_proxy(upstream: str, scenario: Any) -> None:
    async def main() -> None:
        async with FaultProxy(upstream) as proxy:
            await scenario(proxy)
    asyncio.run(main())


def test_fraction_is_exact_and_match_spares_other_services(moto_url: str) -> None:
    async def scenario(proxy: FaultProxy) -> None:
        client = sns_client(proxy.url)
        proxy.set_fault("throttle", fraction=0.5, match="sns")
        outcomes = [await asyncio.to_thread(publish, client) for _ in range(10)]
        assert outcomes.count("Throttling") == 5 and outcomes.count("ok") == 5
        assert proxy.stats["sns"] == {"throttle": 5, "forwarded": 5}
        proxy.set_fault("5xx", match="ses")  # another service's fault: SNS flows
        assert await asyncio.to_thread(publish, client) == "ok"

    run_with_proxy(moto_url, scenario)
    assert len(json.load(urllib.request.urlopen(moto_url + "/moto-api/data.json"))
               ["sns"]["SMS"]) == 6


def test_fault_ends_after_its_duration(moto_url: str) -> None:
    async def scenario(proxy: FaultProxy) -> None:
        client = sns_client(proxy.url)
        proxy.set_fault("throttle", duration_s=0.3)
        start = time.monotonic()
        assert await asyncio.to_thread(publish, client) == "Throttling"
        deadline = start + 5
        while (outcome := await asyncio.to_thread(publish, client)) != "ok":
            assert outcome == "Throttling" and time.monotonic() < deadline
        assert time.monotonic() - start >= 0.3
        assert proxy.fault.mode == "none"

    run_with_proxy(moto_url, scenario)


def test_emulator_control_api_is_never_faulted(moto_url: str) -> None:
    async def scenario(proxy: FaultProxy) -> None:
        proxy.set_fault("5xx")
        status, data = await asyncio.to_thread(http, proxy.url + "/moto-api/data.json")
        assert status == 200 and "sns" in data
        assert proxy.stats["other"] == {"forwarded": 1}

    run_with_proxy(moto_url, scenario)


def http(url: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_cli_proxy_is_controlled_over_http(moto_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "streams.faultproxy",
                             "--listen", f"127.0.0.1:{port}", "--upstream", moto_url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                http(url + "/__fault__/stats")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert http(url + "/__fault__", {"mode": "explode"})[0] == 400
        status, fault = http(url + "/__fault__", {"mode": "5xx", "match": "sns"})
        assert status == 200 and fault["mode"] == "5xx"
        client = sns_client(url)
        assert publish(client) == "ServiceUnavailable"
        status, stats = http(url + "/__fault__/stats")
        assert stats["sns"] == {"5xx": 1}
        http(url + "/__fault__/reset", {})
        assert publish(client) == "ok"
        assert http(url + "/__fault__/stats")[1]["sns"] == {"forwarded": 1}
    finally:
        proc.terminate()
        proc.wait(10)
