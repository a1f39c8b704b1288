//! Whole-file and whole-scan tests of stage 3.
