//! The state folder under crashes, deleted or truncated files and concurrent commands.
