"""boto3 clients built from settings; the demo sender identities."""

from __future__ import annotations

import boto3
from botocore.config import Config

from . import settings as cfg


def client(service: str, endpoint_url: str | None = None, pool: int | None = None):
    aws = cfg.aws()
    conf = Config(
        max_pool_connections=pool or aws.concurrency,
        retries={"max_attempts": 1, "mode": "standard"},  # retries go through Kafka
        connect_timeout=3,
        read_timeout=10,
    )
    return boto3.client(service, region_name=aws.region,
                        endpoint_url=endpoint_url or aws.endpoint_url, config=conf,
                        **_local_credentials(endpoint_url or aws.endpoint_url))


def _local_credentials(endpoint_url: str | None) -> dict[str, str]:
    # An emulator accepts any key; real AWS uses the standard credential chain.
    if endpoint_url and endpoint_url.startswith("http://127."):
        return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return {}


def emulator_credentials() -> None:
    """Give boto3 dummy keys when it talks to a loopback emulator and the
    environment has none; real AWS keeps the standard credential chain."""
    import os

    endpoint = cfg.aws().endpoint_url or ""
    if endpoint.startswith(("http://127.", "http://localhost")):
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def sender_addresses() -> list[str]:
    from .merchants import load_merchants

    path = cfg.worker().merchants_file
    merchants = load_merchants(path if path.is_file() else None)
    return sorted({cfg.worker().ses_sender, *(m.sender_email for m in merchants.values())})


def verify_senders(endpoint_url: str, senders: list[str] | None = None) -> list[str]:
    """Verify the demo sender identities in the emulator (verified at once there)."""
    ses = client("sesv2", endpoint_url)
    senders = senders or sender_addresses()
    for address in senders:
        ses.create_email_identity(EmailIdentity=address)
    return senders
