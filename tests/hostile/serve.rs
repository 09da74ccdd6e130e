//! Hostile requests to `mlpc serve` and the daemon: each gets a 4xx with a message, and the server keeps answering.
