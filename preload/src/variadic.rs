//! `execl`, `execlp` and `execle`. Stable Rust cannot define C-variadic functions, so each is a
//! naked x86-64 entry point: it stores the six integer argument registers next to each other on
//! its stack and passes that block and the address of the caller's stack arguments to Rust,
//! which walks them as the System V ABI lays them out (argument `n` is register slot `n` for
//! `n < 6`, else stack slot `n - 6`).

#![allow(clippy::arithmetic_side_effects)] // argument counts are bounded by MAX_ARGS

use crate::buf::Mapping;
use crate::interpose::{exec_path, exec_search};
use libc::{c_char, c_int};

const EXECL: c_int = 0;
const EXECLP: c_int = 1;
const EXECLE: c_int = 2;

/// Most arguments accepted (beyond this the call fails with `E2BIG`).
const MAX_ARGS: usize = 1 << 16;
/// Arguments placed in an array on the stack before a mapping is used.
const STACK_ARGS: usize = 64;

/// Argument `n` of the variadic call.
///
/// # Safety
/// `regs` points at the six saved argument registers and `stack` at the caller's stack
/// arguments; `n` must not pass the argument list's terminating NULL (and, for `execle`, the
/// `envp` after it).
unsafe fn arg(regs: *const usize, stack: *const usize, n: usize) -> *const c_char {
    // SAFETY: see the function's contract.
    unsafe {
        if n < 6 {
            *regs.add(n) as *const c_char
        } else {
            *stack.add(n - 6) as *const c_char
        }
    }
}

unsafe extern "C" fn entry(regs: *const usize, stack: *const usize, kind: c_int) -> c_int {
    // SAFETY: argument 0 is the path or file.
    let path = unsafe { arg(regs, stack, 0) };
    // argv[i] is argument i + 1; count up to the NULL.
    let mut argc = 0usize;
    // SAFETY: reading arguments up to the terminating NULL, which the C contract requires.
    while !unsafe { arg(regs, stack, argc + 1) }.is_null() {
        argc += 1;
        if argc >= MAX_ARGS {
            // SAFETY: the calling thread's errno.
            unsafe { *libc::__errno_location() = libc::E2BIG };
            return -1;
        }
    }
    let envp = if kind == EXECLE {
        // SAFETY: execle passes envp right after the NULL.
        unsafe { arg(regs, stack, argc + 2) as *const *const c_char }
    } else {
        // SAFETY: reading libc's `environ` pointer value.
        unsafe { std::ptr::addr_of!(environ).read() }
    };
    let mut on_stack: [*const c_char; STACK_ARGS] = [std::ptr::null(); STACK_ARGS];
    let mut mapping = None;
    let slots: &mut [*const c_char] = if argc < STACK_ARGS {
        &mut on_stack
    } else {
        let Some(m) = Mapping::new((argc + 1) * std::mem::size_of::<*const c_char>()) else {
            // SAFETY: the calling thread's errno.
            unsafe { *libc::__errno_location() = libc::ENOMEM };
            return -1;
        };
        let m = mapping.insert(m);
        // SAFETY: a page-aligned mapping of argc + 1 pointers, zero (NULL) filled.
        unsafe { std::slice::from_raw_parts_mut(m.bytes_mut().as_mut_ptr().cast(), argc + 1) }
    };
    for (i, slot) in slots.iter_mut().take(argc).enumerate() {
        // SAFETY: i + 1 <= argc, before the NULL.
        *slot = unsafe { arg(regs, stack, i + 1) };
    }
    let argv = slots.as_ptr();
    let r = match kind {
        EXECLP => exec_search("execlp", path, argv, envp),
        EXECLE => exec_path("execle", path, argv, envp),
        _ => exec_path("execl", path, argv, envp),
    };
    drop(mapping);
    r
}

unsafe extern "C" {
    static mut environ: *const *const c_char;
}

macro_rules! variadic_exec {
    ($name:ident, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        ///
        /// # Safety
        /// The C contract of the function of that name in `exec(3)`.
        #[unsafe(naked)]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name() -> c_int {
            core::arch::naked_asm!(
                "sub rsp, 56",
                "mov [rsp], rdi",
                "mov [rsp + 8], rsi",
                "mov [rsp + 16], rdx",
                "mov [rsp + 24], rcx",
                "mov [rsp + 32], r8",
                "mov [rsp + 40], r9",
                "mov rdi, rsp",
                "lea rsi, [rsp + 64]",
                "mov edx, {kind}",
                "call {entry}",
                "add rsp, 56",
                "ret",
                kind = const $kind,
                entry = sym entry,
            )
        }
    };
}

variadic_exec!(execl, EXECL, "Interposed `execl(path, arg, ..., NULL)`.");
variadic_exec!(execlp, EXECLP, "Interposed `execlp(file, arg, ..., NULL)`.");
variadic_exec!(
    execle,
    EXECLE,
    "Interposed `execle(path, arg, ..., NULL, envp)`."
);
