//! Hook stdin for each host format: the first byte picks the format, the rest is stdin. Runs
//! what `rampart hook` runs before any I/O: the JSON reader, `is_post`, `raw_response`,
//! `parse`, and rendering each verdict. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::hook_formats(data));
