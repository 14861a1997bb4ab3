"""``kv-audit explain``: why does this identity get Forbidden on this vault, and the one fix that works.

- :mod:`~audit_function.explain.parse`: the error texts Key Vault and the SDKs print, and the explicit form;
- :mod:`~audit_function.explain.who`: the caller and the vault, resolved in the estate;
- :mod:`~audit_function.explain.verdict`: every grant in both models judged against the action;
- :mod:`~audit_function.explain.network`: the network verdict for a source address;
- :mod:`~audit_function.explain.fix`: the least-privilege grant in the model in force, as commands;
- :mod:`~audit_function.explain.render`: JSON document and text;
- :mod:`~audit_function.explain.live`: targeted Resource Graph reads for ``--live``;
- :mod:`~audit_function.cli.explain`: the ``kv-audit explain`` subcommand.
"""
