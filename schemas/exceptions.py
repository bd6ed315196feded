"""Errors raised by the wire format.

    SchemaError
    ├── EncodeError           a record does not match its schema (publisher side)
    └── DecodeError           bytes on a topic cannot be turned into a record
        ├── NotSingleObject   no C3 01 marker, or too short
        ├── UnknownSchema     fingerprint of a writer schema we have never seen
        ├── UnexpectedSchema  a valid record, but not the type this topic carries
        └── MalformedBody     the body does not parse with the writer schema
"""


class SchemaError(Exception):
    """Base for every wire-format error."""


class EncodeError(SchemaError, ValueError):
    pass


class DecodeError(SchemaError, ValueError):
    pass


class NotSingleObject(DecodeError):
    pass


class UnknownSchema(DecodeError):
    pass


class UnexpectedSchema(DecodeError):
    pass


class MalformedBody(DecodeError):
    pass
