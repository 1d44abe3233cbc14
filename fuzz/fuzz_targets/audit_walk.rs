//! A whole audit directory (two chain files and the anchor log, split at NUL bytes) through
//! `verify_dir` and a starting writer; an intact directory must stay intact after one append.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::audit_walk(data));
