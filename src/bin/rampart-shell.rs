//! `rampart-shell`: the `rampart wrap` shell shim as a small binary of its own (the `rampart`
//! binary answers to the same name too; this one starts faster). See `rampart::wrap::shim`.

fn main() {
    std::process::exit(rampart::wrap::shim::main());
}
