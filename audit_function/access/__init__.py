"""The effective-access engine: who can do what on each vault, as data-action bitmasks."""
