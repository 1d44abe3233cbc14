//! `/v1/tool/{name}` request bodies: the first line is the path segment, the rest the body.
//! Body reader, typed decode, tool-name validation and tool-input normalisation. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::api_body(data));
