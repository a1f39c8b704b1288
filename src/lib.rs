//! tank-registry: a self-hosted, single-binary registry for AI agent skills.

pub mod archive;
pub mod domain;
pub mod manifest;
pub mod permissions;
pub mod scan;
