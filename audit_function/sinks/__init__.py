"""Where the rendered bytes go (local folder, Blob Storage, Log Analytics): I/O only, no formatting."""
