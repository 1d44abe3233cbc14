//! `librampart_preload.so`: an `LD_PRELOAD` library that asks a Rampart server before a
//! dynamically linked process executes a program.
//!
//! It interposes the exec family (`execve`, `execv`, `execvp`, `execvpe`, `execl`, `execlp`,
//! `execle`, `fexecve`, `execveat`), `posix_spawn`, `posix_spawnp`, `system` and `popen`. For
//! each call it renders the command line, posts it to `POST {RAMPART_URL}/v1/preflight/exec`
//! over loopback HTTP/1.1 (hand-written, raw sockets, strict timeouts) and then either calls the
//! real function (`dlsym(RTLD_NEXT)`) or refuses: `EPERM` for the exec family, an `EPERM`
//! return for `posix_spawn*`, exit status 126 for `system`, `NULL`/`EPERM` for `popen`.
//!
//! Why Rust with `libc` only: the parsing (URL, HTTP, JSON) is where a C library would be most
//! fragile, and Rust keeps it bounds-checked; `libc` gives the raw syscalls. Everything on the
//! per-call path works on stack buffers and one anonymous `mmap` (no heap allocation, no locks),
//! so it is safe in a child after `fork` or `vfork` and in multithreaded programs. Stable Rust
//! cannot define C-variadic functions, so `execl`/`execlp`/`execle` are small naked assembly
//! entry points (x86-64) that hand their register and stack arguments to Rust.
//!
//! The modules other than `interpose` are pure and unit-tested; `interpose` holds the exported
//! symbols and is left out of the test build (a test binary that defined `execve` would
//! intercept its own process).

// No panics on the library's paths (tests may index and unwrap).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod buf;
pub mod config;
pub mod decide;
pub mod http;
pub mod json;
pub mod render;

#[cfg(not(test))]
mod interpose;
#[cfg(not(test))]
mod net;
#[cfg(all(not(test), target_arch = "x86_64"))]
mod variadic;
