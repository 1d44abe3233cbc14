//! Shell text written by a model: the parser/unwrapper, then a decision under the standard
//! profile (which drives the unwrapper through every wrapper the rules know). No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rampart_fuzz::shell_analyze(data));
