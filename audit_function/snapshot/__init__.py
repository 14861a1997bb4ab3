"""Reading a snapshot directory (tables of JSON lines and a manifest) into the estate model."""
