"""One audit run end to end: config -> snapshot -> estate -> access -> rules -> report -> writers."""
