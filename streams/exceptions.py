"""Errors of the service itself (wire-format errors live in schemas.exceptions,
delivery errors in channels.exceptions).

    OrdercastError
    ├── StackError        the local stack cannot start or answer
    ├── ConfigError       settings or merchant config are unusable
    └── PublishError      events could not be handed to Kafka
"""


class OrdercastError(Exception):
    """Base for service errors; the CLI prints them as one line."""


class StackError(OrdercastError):
    pass


class ConfigError(OrdercastError):
    pass


class PublishError(OrdercastError):
    pass
