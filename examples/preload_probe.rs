//! A dynamically linked test program for the preload library: each subcommand makes one kind of
//! exec/spawn call through libc, so the tests in `tests/preload_programs.rs` can drive the
//! interposed symbols that no stock tool reaches (`execl*`, `fexecve`, `execveat`,
//! `posix_spawn` with a spoofed `argv[0]`) and a multithreaded fork/exec storm.
//!
//! Usage: `preload_probe SUBCOMMAND ARGS…`; prints one result line on stdout when the call
//! returns (an exec that succeeds prints whatever the new program prints).

use std::ffi::{CString, c_char, c_int};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

unsafe extern "C" {
    static environ: *const *const c_char;
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errno_name(e: c_int) -> String {
    match e {
        libc::EPERM => "EPERM".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EACCES => "EACCES".into(),
        other => format!("errno {other}"),
    }
}

/// An owned NULL-terminated C string array.
struct CArgs {
    _owned: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

// SAFETY: the pointers point into `_owned`, which moves with the value and is never mutated.
unsafe impl Send for CArgs {}

impl CArgs {
    fn new<S: AsRef<str>>(items: &[S]) -> CArgs {
        let owned: Vec<CString> = items.iter().map(|s| c(s.as_ref())).collect();
        let mut ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CArgs {
            _owned: owned,
            ptrs,
        }
    }

    fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

/// `execl` with a literal argument count (variadic calls need one).
fn execl_n(path: &CString, a: &[CString]) -> c_int {
    let n = std::ptr::null::<c_char>();
    let p = |i: usize| a[i].as_ptr();
    // SAFETY: NUL-terminated strings, list terminated by NULL.
    unsafe {
        match a.len() {
            1 => libc::execl(path.as_ptr(), p(0), n),
            2 => libc::execl(path.as_ptr(), p(0), p(1), n),
            3 => libc::execl(path.as_ptr(), p(0), p(1), p(2), n),
            4 => libc::execl(path.as_ptr(), p(0), p(1), p(2), p(3), n),
            _ => -2,
        }
    }
}

macro_rules! many {
    ($f:ident, $path:expr, $v:ident, [$($i:literal)*]) => {
        libc::$f($path, $($v[$i].as_ptr(),)* std::ptr::null::<c_char>())
    };
}

/// Forks `threads × rounds` children from concurrent threads while other threads allocate;
/// even rounds exec `/bin/true`, odd rounds exec `HELPER DIR` (which policy denies).
fn storm(threads: usize, rounds: usize, helper: &str, dir: &str) {
    let ok = Arc::new(AtomicUsize::new(0));
    let denied = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut keep = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    keep.push(vec![0u8; 4096]);
                    if keep.len() > 256 {
                        keep.clear();
                    }
                }
            })
        })
        .collect();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (ok, denied, other) = (ok.clone(), denied.clone(), other.clone());
            let allowed = CArgs::new(&["/bin/true"]);
            let refused = CArgs::new(&[helper, dir]);
            let true_path = c("/bin/true");
            let helper_path = c(helper);
            std::thread::spawn(move || {
                for r in 0..rounds {
                    let (path, argv) = if r % 2 == 0 {
                        (&true_path, &allowed)
                    } else {
                        (&helper_path, &refused)
                    };
                    // SAFETY: the child only calls execv and _exit.
                    let pid = unsafe { libc::fork() };
                    if pid == 0 {
                        // SAFETY: valid path and argv; _exit never returns.
                        unsafe {
                            libc::execv(path.as_ptr(), argv.as_ptr());
                            libc::_exit(if errno() == libc::EPERM { 126 } else { 127 });
                        }
                    }
                    let mut status = 0;
                    // SAFETY: waiting for our own child.
                    unsafe { libc::waitpid(pid, &mut status, 0) };
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        -1
                    };
                    match (r % 2, code) {
                        (0, 0) => ok.fetch_add(1, Ordering::Relaxed),
                        (1, 126) => denied.fetch_add(1, Ordering::Relaxed),
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    stop.store(true, Ordering::Relaxed);
    for t in churn {
        let _ = t.join();
    }
    println!(
        "ok={} denied={} other={}",
        ok.load(Ordering::Relaxed),
        denied.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed)
    );
}

fn spawn(search: bool, prog: &str, argv: &[String]) {
    let argv = CArgs::new(argv);
    let mut pid: libc::pid_t = 0;
    let prog = c(prog);
    // SAFETY: valid pointers; NULL file actions and attributes are allowed.
    let r = unsafe {
        let f = if search {
            libc::posix_spawnp
        } else {
            libc::posix_spawn
        };
        f(
            &mut pid,
            prog.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            argv.as_ptr() as *const *mut c_char,
            environ as *const *mut c_char,
        )
    };
    if r != 0 {
        println!("spawn: {}", errno_name(r));
        return;
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    println!("spawn: exit {}", libc::WEXITSTATUS(status));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("usage: preload_probe SUBCOMMAND ARGS…");
        std::process::exit(2);
    };
    let cs: Vec<CString> = rest.iter().map(|s| c(s)).collect();
    match cmd.as_str() {
        // execl PATH ARGV0 [ARGS…] (at most 4 argv entries)
        "execl" => {
            let r = execl_n(&cs[0], &cs[1..]);
            println!("execl: {r} {}", errno_name(errno()));
        }
        // execlp FILE ARGV0 ARG
        "execlp" => {
            // SAFETY: NUL-terminated strings, list terminated by NULL.
            let r = unsafe {
                libc::execlp(
                    cs[0].as_ptr(),
                    cs[1].as_ptr(),
                    cs[2].as_ptr(),
                    std::ptr::null::<c_char>(),
                )
            };
            println!("execlp: {r} {}", errno_name(errno()));
        }
        // execle PATH: runs PATH with argv [PATH] and an environment of only FOO=bar.
        "execle" => {
            let env = CArgs::new(&["FOO=bar"]);
            // SAFETY: NUL-terminated strings, NULL, then envp.
            let r = unsafe {
                libc::execle(
                    cs[0].as_ptr(),
                    cs[0].as_ptr(),
                    std::ptr::null::<c_char>(),
                    env.as_ptr(),
                )
            };
            println!("execle: {r} {}", errno_name(errno()));
        }
        // execl-many PATH: execl with 70 arguments (register, stack and mapped-array paths).
        "execl-many" => {
            let v: Vec<CString> = (0..70).map(|i| c(&format!("a{i}"))).collect();
            // SAFETY: NUL-terminated strings, list terminated by NULL.
            let r = unsafe {
                many!(execl, cs[0].as_ptr(), v, [
                    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
                    29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54
                    55 56 57 58 59 60 61 62 63 64 65 66 67 68 69
                ])
            };
            println!("execl-many: {r} {}", errno_name(errno()));
        }
        // execve PATH ARGV0 [ARGS…] with an environment of only FOO=bar.
        "execve-clean-env" => {
            let argv = CArgs::new(&rest[1..]);
            let env = CArgs::new(&["FOO=bar"]);
            // SAFETY: valid arrays.
            let r = unsafe { libc::execve(cs[0].as_ptr(), argv.as_ptr(), env.as_ptr()) };
            println!("execve: {r} {}", errno_name(errno()));
        }
        // fexecve PATH ARGV0 [ARGS…]
        "fexecve" => {
            // SAFETY: opening a path for reading.
            let fd = unsafe { libc::open(cs[0].as_ptr(), libc::O_RDONLY) };
            let argv = CArgs::new(&rest[1..]);
            // SAFETY: valid fd and arrays.
            let r = unsafe { libc::fexecve(fd, argv.as_ptr(), environ) };
            println!("fexecve: {r} {}", errno_name(errno()));
        }
        // execveat DIR NAME ARGV0 [ARGS…]: NAME relative to the directory DIR.
        "execveat" => {
            // SAFETY: opening a directory.
            let dirfd = unsafe { libc::open(cs[0].as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            let argv = CArgs::new(&rest[2..]);
            // SAFETY: valid fd and arrays.
            let r = unsafe {
                libc::execveat(
                    dirfd,
                    cs[1].as_ptr(),
                    argv.as_ptr() as *const *mut c_char,
                    environ as *const *mut c_char,
                    0,
                )
            };
            println!("execveat: {r} {}", errno_name(errno()));
        }
        // spawn PATH ARGV0 [ARGS…] / spawnp FILE ARGV0 [ARGS…]
        "spawn" => spawn(false, &rest[0], &rest[1..]),
        "spawnp" => spawn(true, &rest[0], &rest[1..]),
        // system CMD
        "system" => {
            // SAFETY: a valid C string.
            let r = unsafe { libc::system(cs[0].as_ptr()) };
            println!("system: exit {}", libc::WEXITSTATUS(r));
        }
        // popen CMD
        "popen" => {
            // SAFETY: valid C strings.
            let f = unsafe { libc::popen(cs[0].as_ptr(), c"r".as_ptr()) };
            if f.is_null() {
                println!("popen: {}", errno_name(errno()));
                return;
            }
            let mut out = Vec::new();
            let mut buf = [0u8; 256];
            loop {
                // SAFETY: reading into a valid buffer from a valid FILE.
                let n = unsafe { libc::fread(buf.as_mut_ptr().cast(), 1, buf.len(), f) };
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            // SAFETY: closing the stream popen returned.
            let st = unsafe { libc::pclose(f) };
            println!(
                "popen: exit {} output {:?}",
                libc::WEXITSTATUS(st),
                String::from_utf8_lossy(&out)
            );
        }
        // storm THREADS ROUNDS HELPER DIR
        "storm" => storm(
            rest[0].parse().unwrap_or(4),
            rest[1].parse().unwrap_or(10),
            &rest[2],
            &rest[3],
        ),
        // inert PATH ARGS…: mark the library inert, then exec without asking.
        "inert" => {
            // SAFETY: looking up an optional symbol; calling it with no arguments.
            unsafe {
                let f = libc::dlsym(libc::RTLD_DEFAULT, c"rampart_preload_inert".as_ptr());
                if !f.is_null() {
                    let f: extern "C" fn() = std::mem::transmute(f);
                    f();
                }
            }
            let argv = CArgs::new(&rest[1..]);
            // SAFETY: valid path and argv.
            let r = unsafe { libc::execv(cs[0].as_ptr(), argv.as_ptr()) };
            println!("inert execv: {r} {}", errno_name(errno()));
        }
        other => {
            eprintln!("unknown subcommand {other}");
            std::process::exit(2);
        }
    }
}
