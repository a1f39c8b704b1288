//! Whole-scan tests for stage 2 (SPEC §8.8 reference corpus rows and "MUST be caught" bullets).
