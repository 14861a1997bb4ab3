"""Bounded YAML for configuration files: no aliases, a size limit."""

from __future__ import annotations

from pathlib import Path

import yaml

from audit_function.errors import ConfigError

#: a configuration is a few kilobytes; anything near this is not one
MAX_CONFIG_BYTES = 1 << 20


class NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases (``*name``): a configuration never needs them, and expanding them is
    how a few hundred bytes become gigabytes ("billion laughs"). Refused at the first one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"aliases (*{event.anchor}) are not allowed in a "
                                              "kv-audit configuration; write the value out", event.start_mark)
        return super().compose_node(parent, index)


def read_config_text(where: str) -> str:
    """The text of a configuration file, refused when larger than MAX_CONFIG_BYTES."""
    try:
        if (size := Path(where).stat().st_size) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{where}: {size:,} bytes; a configuration file is at most {MAX_CONFIG_BYTES:,}")
        return Path(where).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ConfigError(f"{where}: cannot read the configuration file: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: the configuration file is not UTF-8 text") from e
