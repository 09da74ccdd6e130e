//! Hostile use: requests, crashes, tampered files and programs that try to read what they
//! should not. Each case asserts the status or error, the message, and that mlpc still
//! works afterwards (`docs/security.md` says what is checked where).

#[path = "../common/mod.rs"]
mod common;

mod program;
mod serve;
mod state;
