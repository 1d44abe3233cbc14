//! Lines of an audit chain file as `rampart audit verify` reads them: record parsing, then the
//! hash recomputation and re-serialisation a verified event goes through. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::audit_lines(data));
