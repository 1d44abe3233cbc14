//! Policy YAML from a repository: load, compile, decide a few calls. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::policy_load(data));
