"""kv-audit's engine package: every stage of an audit, in the order data flows through them.

collect -> snapshot -> estate -> access -> (rules/, top level) -> engine -> report -> (reports/, the
writers, top level) -> sinks; around them history, migration, explain, tickets, pipeline (one run),
cli and function (the two ways to start one). docs/architecture.md draws the tree and the contract
between each pair of stages; tests/test_layers.py checks the import order.
"""

__version__ = "0.1.0"
