//! Unit tests of stage 5.
