"""The bench's fake SES/SNS endpoint answers boto3 and counts what it got; the
bench's rate and percentile arithmetic. No broker needed."""

from __future__ import annotations

import math

import pytest

from bench.fakeprovider import FakeProvider, order_key, ses_key
from bench.measure import between, percentile, steady_rate
from bench.procs import free_port
from channels.aws import aws_client


@pytest.fixture
def provider(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with FakeProvider(free_port(), latency_ms=0) as fake:
        yield fake


def test_fake_provider_answers_boto3_and_records_the_order(provider):
    ses = aws_client("sesv2", endpoint_url=provider.url, region="us-east-1")
    sns = aws_client("sns", endpoint_url=provider.url, region="us-east-1")
    try:
        reply = ses.send_email(
            FromEmailAddress="noreply@shop.example",
            Destination={"ToAddresses": ["buyer@example.com"]},
            Content={"Simple": {"Subject": {"Data": "Order OC000000042 paid"},
                                "Body": {"Text": {"Data": "thanks"}}}})
        sms = sns.publish(PhoneNumber="+14155550100", Message="Order OC000000043 paid")
    finally:
        ses.close()
        sns.close()
    assert reply["MessageId"] and sms["MessageId"]
    assert provider.count() == 2
    assert [(key, api) for _, key, api in provider.calls()] == [
        ("OC000000042", "ses"), ("OC000000043", "sns")]
    provider.reset()
    assert provider.count() == 0


@pytest.mark.parametrize(("body", "key"), [
    ({"Content": {"Simple": {"Subject": {"Data": "订单 OC123456789 已支付"}}}}, "OC123456789"),
    ({"Content": {"Simple": {"Subject": {"Data": "Paid"},
                             "Body": {"Text": {"Data": "order OC000000007"}}}}}, "OC000000007"),
    ({"Content": {"Simple": {"Subject": {"Data": "Paid"}}},
      "EmailTags": [{"Name": "notification_id", "Value": "n-1"}]}, "n-1"),
    ({}, ""),
])
def test_ses_key(body, key):
    assert ses_key(body) == key


def test_order_key_takes_the_first_text_that_has_one():
    assert order_key(None, "no number", "OC000000001 and OC000000002") == "OC000000001"


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0], 99, 1.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([float(i) for i in range(1, 101)], 99, 99.0),
    ([float(i) for i in range(1, 101)], 100, 100.0),
])
def test_percentile_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


def test_percentile_of_nothing_is_nan():
    assert math.isnan(percentile([], 50))


def test_steady_rate_counts_each_order_once_between_first_and_last_call():
    calls = [(10.0, "a", "ses"), (10.5, "b", "ses"), (10.7, "a", "ses"),  # a resent
             (11.0, "c", "ses"), (10.2, "x", "sns")]  # sms is another api
    rate = steady_rate(calls)
    assert (rate.count, rate.seconds, rate.per_s) == (3, 1.0, 2.0)


def test_between_reports_missing_keys():
    lat = between({"a": 1.0, "b": 2.0}, {"a": 1.25})
    assert (lat.count, lat.missing, lat.p50_ms, lat.max_ms) == (1, 1, 250.0, 250.0)
