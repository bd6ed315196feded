"""Real botocore ClientErrors, parsed by botocore from the bytes each AWS API
puts on the wire (no network)."""

from __future__ import annotations

import json

import botocore.session
from botocore import parsers
from botocore.awsrequest import HeadersDict
from botocore.exceptions import ClientError

_SESSION = botocore.session.get_session()
_NS = {"ses": "http://ses.amazonaws.com/doc/2010-12-01/",
       "sns": "http://sns.amazonaws.com/doc/2010-03-31/"}
OPERATIONS = {"sesv2": "SendEmail", "ses": "SendEmail", "sns": "Publish",
              "pinpoint-sms-voice-v2": "SendTextMessage"}


def wire_error(service: str, status: int, code: str, message: str) -> ClientError:
    """The ClientError botocore raises when ``service`` answers ``status`` with
    error ``code`` in its own protocol (rest-json, query XML or JSON)."""
    model = _SESSION.get_service_model(service)
    operation = OPERATIONS[service]
    headers = HeadersDict({"x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"})
    if model.protocol == "rest-json":
        headers["x-amzn-ErrorType"] = f"{code}:http://internal.amazon.com/coral/com.amazonaws.{service}/"
        body = json.dumps({"message": message}).encode()
    elif model.protocol == "json":
        body = json.dumps({"__type": f"com.amazonaws.{service}#{code}",
                           "Message": message}).encode()
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f'<ErrorResponse xmlns="{_NS[service]}"><Error><Type>{kind}</Type>'
                f"<Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
                "</ErrorResponse>").encode()
    parser = parsers.create_parser(model.protocol)
    parsed = parser.parse({"status_code": status, "headers": headers, "body": body},
                          model.operation_model(operation).output_shape)
    return ClientError(parsed, operation)  # type: ignore[arg-type]
