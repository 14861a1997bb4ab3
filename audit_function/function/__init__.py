"""The Azure Function's side of a run: app settings read once, the timer's run."""
