//! Command, path and domain globs: pattern and value split at the first NUL. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::glob_match(data));
