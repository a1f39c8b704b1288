//! Black-box HTTP tests against the real server (one test binary, one module per area).

mod support;

mod backup;
mod core;
mod login;
mod metrics;
mod openapi;
mod pages;
mod publish;
mod races;
mod ratelimit;
mod reads;
mod routing;
mod scan;
mod search;
mod visibility;
