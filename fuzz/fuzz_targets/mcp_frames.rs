//! MCP JSON-RPC frames from either side: the frame splitter, id handling, the strict and lax
//! `tools/call` decoding and the result-text extraction. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::mcp_frames(data));
