//! tank-registry: a self-hosted, single-binary registry for AI agent skills.
//!
//! `main` parses the command line and calls into this library; tests call [`serve`] directly with a listener
//! bound to `127.0.0.1:0` and a temporary data directory.

pub mod admin;
pub mod app;
pub mod archive;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod cli;
pub mod config;
pub mod domain;
pub mod ephemeral;
pub mod error;
pub mod http;
pub mod manifest;
pub mod metrics;
pub mod permissions;
pub mod ratelimit;
pub mod scan;
pub mod search;
pub mod server;
pub mod store;
pub mod web;

pub use server::{DataDir, serve};
