//! One module per page.

pub mod compare;
pub mod monitors;
pub mod pipeline;
pub mod registry;
pub mod runs;
pub mod serving;
pub mod traffic;
