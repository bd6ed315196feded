"""Metric names an expression reads, from a real PromQL parser (promql-parser)."""

from __future__ import annotations

import re

import pytest

from tests.deploy.conftest import missing

# Grafana's interval macros are not PromQL; any duration stands in for them.
_GRAFANA_INTERVALS = re.compile(r"\$\{?(__rate_interval|__interval|__range)\b\}?")


def _parser():
    try:
        import promql_parser
    except ImportError:
        missing("the promql-parser package")
    return promql_parser


def metric_names(expr: str) -> set[str]:
    """Every metric an expression selects; fails the test if it does not parse."""
    parser = _parser()
    text = _GRAFANA_INTERVALS.sub("5m", expr)
    try:
        tree = parser.parse(text)
    except ValueError as exc:
        pytest.fail(f"not valid PromQL: {expr!r}: {exc}")
    names: set[str] = set()
    _walk(tree, parser, names)
    return names


def _walk(node, parser, names: set[str]) -> None:
    if isinstance(node, parser.VectorSelector):
        names.add(node.name or _name_matcher(node))
    elif isinstance(node, parser.MatrixSelector):
        _walk(node.vector_selector, parser, names)
    elif isinstance(node, parser.BinaryExpr):
        _walk(node.lhs, parser, names)
        _walk(node.rhs, parser, names)
    elif isinstance(node, parser.AggregateExpr):
        _walk(node.expr, parser, names)
        if node.param is not None:
            _walk(node.param, parser, names)
    elif isinstance(node, parser.Call):
        for arg in node.args:
            _walk(arg, parser, names)
    elif isinstance(node, parser.ParenExpr | parser.UnaryExpr | parser.SubqueryExpr):
        _walk(node.expr, parser, names)


def _name_matcher(node) -> str:
    for matcher in node.matchers.matchers:
        if matcher.name == "__name__":
            return matcher.value
    return "<no metric name>"
