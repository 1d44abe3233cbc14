//! The exported symbols. Each one renders the command, asks the server (see [`check`]) and then
//! calls the real function found with `dlsym(RTLD_NEXT)` or refuses.
//!
//! Everything after load works without the heap and without locks: the configuration and the
//! real function pointers are built once by a constructor (`.init_array`), the per-call work
//! uses stack buffers and one anonymous mapping. That keeps a child after `fork` (where another
//! thread may have held the malloc lock) and after `vfork` (which shares the parent's memory)
//! safe. Panics are caught at [`check`] so none crosses the C boundary.

use crate::buf::{Counter, Mapping, Sink, SliceBuf, put_printable, put_u64};
use crate::config::{CONNECT_TIMEOUT_MS, Config, is_owned_entry};
use crate::decide::{Action, Mode, Outcome, Transport, action};
use crate::http::{MAX_REQUEST_BODY, Request};
use crate::json::{parse_answer, put_unescaped_line};
use crate::net::{ExchangeError, exchange};
use crate::render::{CArray, Command, first_word};
use libc::{FILE, c_char, c_int, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t};
use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

type Argv = *const *const c_char;
type ExecveFn = unsafe extern "C" fn(*const c_char, Argv, Argv) -> c_int;
type FexecveFn = unsafe extern "C" fn(c_int, Argv, Argv) -> c_int;
type ExecveatFn = unsafe extern "C" fn(c_int, *const c_char, Argv, Argv, c_int) -> c_int;
type SpawnFn = unsafe extern "C" fn(
    *mut pid_t,
    *const c_char,
    *const posix_spawn_file_actions_t,
    *const posix_spawnattr_t,
    Argv,
    Argv,
) -> c_int;
type SystemFn = unsafe extern "C" fn(*const c_char) -> c_int;
type PopenFn = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut FILE;

/// The next definitions of the interposed functions (libc's).
struct Real {
    execve: Option<ExecveFn>,
    execvpe: Option<ExecveFn>,
    fexecve: Option<FexecveFn>,
    execveat: Option<ExecveatFn>,
    posix_spawn: Option<SpawnFn>,
    posix_spawnp: Option<SpawnFn>,
    system: Option<SystemFn>,
    popen: Option<PopenFn>,
}

struct State {
    cfg: Config,
    real: Real,
}

static STATE: AtomicPtr<State> = AtomicPtr::new(std::ptr::null_mut());
static INERT: AtomicBool = AtomicBool::new(false);

unsafe extern "C" {
    static mut environ: *const *const c_char;
}

/// Wraps a C string array that came from a caller (or `environ`).
fn carray(p: Argv) -> CArray {
    // SAFETY: the array is the argument of an exec/spawn call (or libc's `environ`), which the
    // C contract requires to be NULL or a NULL-terminated array of C strings.
    unsafe { CArray::new(p) }
}

fn live_environ() -> Argv {
    // SAFETY: reading the pointer value of libc's `environ` (not a reference to it).
    unsafe { std::ptr::addr_of!(environ).read() }
}

/// Makes the library a pass-through in this process. Rampart's own server calls it (found with
/// `dlsym(RTLD_DEFAULT)`), so a server started under the library never asks itself.
#[unsafe(no_mangle)]
pub extern "C" fn rampart_preload_inert() {
    INERT.store(true, Ordering::SeqCst);
}

unsafe fn next<T>(name: &CStr) -> Option<T> {
    // SAFETY: dlsym with a valid C string; a non-null result is the address of the function
    // of that name, whose C signature `T` mirrors.
    unsafe {
        let p = libc::dlsym(libc::RTLD_NEXT, name.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(std::mem::transmute_copy::<*mut libc::c_void, T>(&p))
        }
    }
}

fn build_state() -> State {
    let mut entries: Vec<&[u8]> = Vec::new();
    let env = carray(live_environ());
    entries.extend(env.iter());
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let cfg = Config::from_env(&entries, pid.unsigned_abs());
    // SAFETY: each name is paired with the signature of the libc function of that name.
    let real = unsafe {
        Real {
            execve: next(c"execve"),
            execvpe: next(c"execvpe"),
            fexecve: next(c"fexecve"),
            execveat: next(c"execveat"),
            posix_spawn: next(c"posix_spawn"),
            posix_spawnp: next(c"posix_spawnp"),
            system: next(c"system"),
            popen: next(c"popen"),
        }
    };
    State { cfg, real }
}

/// The snapshot; built by the constructor, or on first use if a call comes first.
fn state() -> Option<&'static State> {
    let p = STATE.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: a published State is leaked and never freed.
        return Some(unsafe { &*p });
    }
    let built = catch_unwind(build_state).ok()?;
    let fresh = Box::into_raw(Box::new(built));
    match STATE.compare_exchange(
        std::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        // SAFETY: just published; leaked for the life of the process.
        Ok(_) => Some(unsafe { &*fresh }),
        // Another thread won; ours stays leaked (a one-off race at start-up).
        // SAFETY: as above for the winner's value.
        Err(winner) => Some(unsafe { &*winner }),
    }
}

extern "C" fn init() {
    let _ = state();
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = init;

fn errno() -> c_int {
    // SAFETY: the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

fn set_errno(e: c_int) {
    // SAFETY: the calling thread's errno.
    unsafe { *libc::__errno_location() = e }
}

fn fail(e: c_int) -> c_int {
    set_errno(e);
    -1
}

fn write_stderr(b: &[u8]) {
    let mut rest = b;
    while !rest.is_empty() {
        // SAFETY: writing from a valid slice to fd 2.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            return;
        }
        rest = rest.get(n as usize..).unwrap_or(&[]);
    }
}

/// Writes the command for a message: printable, shortened.
fn put_command<S: Sink>(out: &mut S, cmd: &Command) {
    let mut raw = [0u8; 161];
    let mut b = SliceBuf::new(&mut raw);
    cmd.render(&mut b);
    let shown = b.bytes();
    put_printable(out, shown.get(..160).unwrap_or(shown), 160);
    if b.overflowed() {
        out.put(b"...");
    }
}

/// Asks the server; a denial's message is copied into `msg`.
fn ask(st: &State, cmd: Command, msg: &mut SliceBuf) -> Outcome {
    let ep = match &st.cfg.endpoint {
        Ok(e) => e,
        Err(why) => return Outcome::Internal(why),
    };
    let token = match &st.cfg.token {
        Ok(t) => t.as_deref(),
        Err(why) => return Outcome::Internal(why),
    };
    let req = Request {
        host: &ep.host,
        base_path: &ep.base_path,
        token,
        agent_json: &st.cfg.agent_json,
        session_json: &st.cfg.session_json,
        command: cmd,
        enforce: st.cfg.mode == Mode::Enforce,
    };
    let body_len = req.body_len();
    if body_len > MAX_REQUEST_BODY {
        return Outcome::Internal("command too large to check (request over 1 MiB)");
    }
    let req_len = req.len(body_len);
    // Requests up to 4 KiB are built on the stack, larger ones in a mapping.
    let mut small = [0u8; 4096];
    let mut mapping = None;
    let req_buf: &mut [u8] = if req_len <= small.len() {
        &mut small
    } else {
        match Mapping::new(req_len) {
            Some(m) => mapping.insert(m).bytes_mut(),
            None => return Outcome::Internal("cannot map memory for the request"),
        }
    };
    let mut w = SliceBuf::new(req_buf);
    req.write(&mut w, body_len);
    if w.overflowed() || w.len() != req_len {
        return Outcome::Internal("request did not fit its buffer");
    }
    let answer = exchange(
        ep.addr,
        w.bytes(),
        CONNECT_TIMEOUT_MS,
        st.cfg.timeout_ms,
        |status, body| match status {
            200 => match parse_answer(body) {
                Ok(a) => {
                    if let Some(m) = a.message {
                        put_unescaped_line(msg, m, 300);
                    }
                    if a.allowed {
                        Outcome::Allowed
                    } else {
                        Outcome::Denied
                    }
                }
                Err(_) => Outcome::Malformed,
            },
            s if s >= 500 => Outcome::ServerError(s),
            s => Outcome::Refused(s),
        },
    );
    drop(mapping);
    match answer {
        Ok(o) => o,
        Err(ExchangeError::Transport(t)) => Outcome::Unreachable(t),
        Err(ExchangeError::Malformed) => Outcome::Malformed,
    }
}

fn put_reason<S: Sink>(out: &mut S, st: &State, outcome: Outcome) {
    match outcome {
        Outcome::Unreachable(Transport::Socket) => {
            out.put(b"cannot create a socket to ask the policy server (out of file descriptors?)")
        }
        Outcome::Unreachable(t) => {
            out.put(b"policy server unreachable at ");
            put_printable(out, &st.cfg.url, 200);
            out.put(b" (");
            out.put(t.as_str().as_bytes());
            out.put(b")");
        }
        Outcome::ServerError(s) => {
            out.put(b"policy server error (HTTP ");
            put_u64(out, u64::from(s));
            out.put(b")");
        }
        Outcome::Refused(s) => {
            out.put(b"policy server refused the request (HTTP ");
            put_u64(out, u64::from(s));
            out.put(b"; check RAMPART_TOKEN)");
        }
        Outcome::Malformed => out.put(b"unreadable answer from the policy server"),
        Outcome::Internal(why) => out.put(why.as_bytes()),
        Outcome::Allowed => out.put(b"allowed"),
        Outcome::Denied => out.put(b"denied by policy"),
    }
}

/// Whether the call may proceed. Prints one stderr line when it refuses or runs unchecked.
/// Keeps `errno` as it was when the call proceeds.
fn check(st: &State, func: &str, cmd: Command) -> bool {
    if INERT.load(Ordering::Relaxed) || st.cfg.mode == Mode::Disabled {
        return true;
    }
    let saved = errno();
    let mut msg_raw = [0u8; 320];
    let mut msg = SliceBuf::new(&mut msg_raw);
    let outcome = catch_unwind(AssertUnwindSafe(|| ask(st, cmd, &mut msg)))
        .unwrap_or(Outcome::Internal("internal error in the preload library"));
    let act = action(st.cfg.mode, st.cfg.fail_open, outcome);
    let mut line_raw = [0u8; 1024];
    let mut line = SliceBuf::new(&mut line_raw);
    if st.cfg.debug {
        let mut n = Counter::default();
        cmd.render(&mut n);
        line.put(b"[rampart] ");
        line.put(func.as_bytes());
        line.put(b": ");
        put_u64(&mut line, n.0 as u64);
        line.put(b"-byte command: ");
        put_reason(&mut line, st, outcome);
        line.put(b"\n");
    }
    match act {
        Action::Run => {}
        Action::RunUnchecked => {
            line.put(b"rampart: warning: ");
            put_reason(&mut line, st, outcome);
            line.put(b"; running unchecked: ");
            put_command(&mut line, &cmd);
            line.put(b"\n");
        }
        Action::Refuse => {
            line.put(b"rampart: blocked: ");
            put_command(&mut line, &cmd);
            line.put(b": ");
            if outcome == Outcome::Denied && !msg.is_empty() {
                line.put(msg.bytes());
            } else {
                put_reason(&mut line, st, outcome);
            }
            if !st.cfg.fail_open
                && matches!(outcome, Outcome::Unreachable(_) | Outcome::ServerError(_))
                && outcome != Outcome::Unreachable(Transport::Socket)
            {
                line.put(b"; failing closed");
            }
            line.put(b"\n");
        }
    }
    if line.overflowed() {
        line.put(b"\n");
    }
    write_stderr(line.bytes());
    if act == Action::Refuse {
        return false;
    }
    set_errno(saved);
    true
}

/// How the program is named.
#[derive(Clone, Copy)]
enum Prog<'a> {
    /// A path, used as is.
    Path(&'a [u8]),
    /// A file name looked up in `PATH` when it has no slash.
    Search(&'a [u8]),
    /// An open file descriptor.
    Fd(c_int),
    /// `execveat(dirfd, path, …, flags)`.
    At(c_int, &'a [u8], c_int),
}

/// Writes the `/proc/self/fd/N` target of `fd` into `out`.
fn fd_path(fd: c_int, out: &mut [u8]) -> Option<usize> {
    let mut link_raw = [0u8; 40];
    let mut link = SliceBuf::new(&mut link_raw);
    link.put(b"/proc/self/fd/");
    put_u64(&mut link, u64::from(fd.unsigned_abs()));
    link.put(b"\0");
    // SAFETY: NUL-terminated path and a valid output buffer.
    let n = unsafe {
        libc::readlink(
            link.bytes().as_ptr().cast(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    (n > 0 && (n as usize) < out.len()).then_some(n as usize)
}

fn env_value(env: Argv, name: &[u8]) -> Option<&'static [u8]> {
    carray(env)
        .iter()
        .find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix(b"=")))
}

/// Resolves `file` through `PATH` as `execvp` does (first executable regular file).
fn search_path(file: &[u8], out: &mut [u8]) -> Option<usize> {
    let path = env_value(live_environ(), b"PATH").unwrap_or(b"/bin:/usr/bin");
    for dir in path.split(|b| *b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut w = SliceBuf::new(out);
        w.put(dir);
        w.put(b"/");
        w.put(file);
        w.put(b"\0");
        if w.overflowed() {
            continue;
        }
        let len = w.len().saturating_sub(1);
        let p = w.bytes().as_ptr().cast::<c_char>();
        // SAFETY: NUL-terminated path; an all-zero stat is valid output space.
        let ok = unsafe {
            let mut sb: libc::stat = std::mem::zeroed();
            libc::access(p, libc::X_OK) == 0
                && libc::stat(p, &mut sb) == 0
                && (sb.st_mode & libc::S_IFMT) == libc::S_IFREG
        };
        if ok {
            return Some(len);
        }
    }
    None
}

/// The program word for the command line; `scratch` holds resolved paths.
fn program_word<'a>(prog: Prog<'a>, argv0: Option<&'a [u8]>, scratch: &'a mut [u8]) -> &'a [u8] {
    let (exe, resolve_fd): (&[u8], Option<c_int>) = match prog {
        Prog::Path(p) => (p, None),
        Prog::Search(f) if f.contains(&b'/') || argv0 == Some(f) => (f, None),
        Prog::Search(f) => {
            return match search_path(f, scratch) {
                Some(n) => first_word(argv0, scratch.get(..n).unwrap_or(f)),
                None => f,
            };
        }
        Prog::Fd(fd) => (&[][..], Some(fd)),
        Prog::At(_, p, _) if p.starts_with(b"/") => (p, None),
        Prog::At(dirfd, p, flags) if p.is_empty() && flags & libc::AT_EMPTY_PATH != 0 => {
            (&[][..], Some(dirfd))
        }
        Prog::At(libc::AT_FDCWD, p, _) => (p, None),
        Prog::At(dirfd, p, _) => {
            let Some(n) = fd_path(dirfd, scratch) else {
                return first_word(argv0, p);
            };
            let total = n.saturating_add(1).saturating_add(p.len());
            if let Some(dst) = scratch.get_mut(n..total) {
                if let Some((slash, rest)) = dst.split_first_mut() {
                    *slash = b'/';
                    rest.copy_from_slice(p);
                }
                return first_word(argv0, scratch.get(..total).unwrap_or(p));
            }
            return first_word(argv0, p);
        }
    };
    if let Some(fd) = resolve_fd {
        return match fd_path(fd, scratch) {
            Some(n) => first_word(argv0, scratch.get(..n).unwrap_or(&[])),
            None => b"/proc/self/fd/?",
        };
    }
    first_word(argv0, exe)
}

/// Checks an argv-style call.
fn check_argv(st: &State, func: &str, prog: Prog, argv: Argv) -> bool {
    if INERT.load(Ordering::Relaxed) || st.cfg.mode == Mode::Disabled {
        return true;
    }
    let argv = carray(argv);
    let mut scratch = [0u8; 4096];
    let first = program_word(prog, argv.first(), &mut scratch);
    check(st, func, Command::Argv { first, argv })
}

/// Most entries placed in a rebuilt environment on the stack before a mapping is used.
const STACK_ENV: usize = 256;

/// Calls `f` with an environment that carries the library's entries as they were at load:
/// caller copies of `LD_PRELOAD` and `RAMPART_*` are replaced, so children stay covered and
/// cannot weaken the settings. `None` when no memory could be had for the rebuilt array.
fn with_env<R>(st: &State, envp: Argv, f: impl FnOnce(Argv) -> R) -> Option<R> {
    if INERT.load(Ordering::Relaxed)
        || st.cfg.mode == Mode::Disabled
        || st.cfg.env_is_intact(carray(envp).iter())
    {
        return Some(f(envp));
    }
    let src = carray(envp);
    let kept = src.iter_ptrs().filter(|(_, e)| !is_owned_entry(e)).count();
    let total = kept.saturating_add(st.cfg.keep_env.len()).saturating_add(1);
    let mut stack: [*const c_char; STACK_ENV] = [std::ptr::null(); STACK_ENV];
    let mut mapping = None;
    let slots: &mut [*const c_char] = if total <= STACK_ENV {
        &mut stack
    } else {
        let m = Mapping::new(total.saturating_mul(std::mem::size_of::<*const c_char>()))?;
        let m = mapping.insert(m);
        let bytes = m.bytes_mut();
        // SAFETY: the mapping is page-aligned and `total` pointers long; all-zero is NULL.
        unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast(), total) }
    };
    let mut i = 0usize;
    let owned = st.cfg.keep_env.iter().map(|k| k.as_ptr());
    let others = src
        .iter_ptrs()
        .filter(|(_, e)| !is_owned_entry(e))
        .map(|(p, _)| p);
    for p in others.chain(owned) {
        if let Some(slot) = slots.get_mut(i) {
            *slot = p;
            i = i.saturating_add(1);
        }
    }
    if let Some(end) = slots.get_mut(i) {
        *end = std::ptr::null();
    }
    let r = f(slots.as_ptr());
    drop(mapping);
    Some(r)
}

fn cstr<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: the caller passed a NUL-terminated string (the function's C contract).
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// `execve` and the calls built on it (`execv`, `execl`, `execle`).
pub(crate) fn exec_path(func: &str, path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    let Some(st) = state() else {
        return fail(libc::EIO);
    };
    let Some(real) = st.real.execve else {
        return fail(libc::EIO);
    };
    if let Some(p) = cstr(path).filter(|p| !p.is_empty())
        && !check_argv(st, func, Prog::Path(p), argv)
    {
        return fail(libc::EPERM);
    }
    // SAFETY: forwarding the caller's arguments to libc's execve.
    with_env(st, envp, |e| unsafe { real(path, argv, e) }).unwrap_or_else(|| fail(libc::ENOMEM))
}

/// `execvpe` and the calls built on it (`execvp`, `execlp`).
pub(crate) fn exec_search(func: &str, file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    let Some(st) = state() else {
        return fail(libc::EIO);
    };
    let Some(real) = st.real.execvpe else {
        return fail(libc::EIO);
    };
    if let Some(f) = cstr(file).filter(|f| !f.is_empty())
        && !check_argv(st, func, Prog::Search(f), argv)
    {
        return fail(libc::EPERM);
    }
    // SAFETY: forwarding the caller's arguments to libc's execvpe.
    with_env(st, envp, |e| unsafe { real(file, argv, e) }).unwrap_or_else(|| fail(libc::ENOMEM))
}

/// Interposed `execve`.
///
/// # Safety
/// The C contract of `execve(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    exec_path("execve", path, argv, envp)
}

/// Interposed `execv`.
///
/// # Safety
/// The C contract of `execv(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execv(path: *const c_char, argv: Argv) -> c_int {
    exec_path("execv", path, argv, live_environ())
}

/// Interposed `execvp`.
///
/// # Safety
/// The C contract of `execvp(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: Argv) -> c_int {
    exec_search("execvp", file, argv, live_environ())
}

/// Interposed `execvpe`.
///
/// # Safety
/// The C contract of `execvpe(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    exec_search("execvpe", file, argv, envp)
}

/// Interposed `fexecve`.
///
/// # Safety
/// The C contract of `fexecve(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int {
    let Some(st) = state() else {
        return fail(libc::EIO);
    };
    let Some(real) = st.real.fexecve else {
        return fail(libc::EIO);
    };
    if !check_argv(st, "fexecve", Prog::Fd(fd), argv) {
        return fail(libc::EPERM);
    }
    // SAFETY: forwarding the caller's arguments to libc's fexecve.
    with_env(st, envp, |e| unsafe { real(fd, argv, e) }).unwrap_or_else(|| fail(libc::ENOMEM))
}

/// Interposed `execveat`.
///
/// # Safety
/// The C contract of `execveat(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: Argv,
    envp: Argv,
    flags: c_int,
) -> c_int {
    let Some(st) = state() else {
        return fail(libc::EIO);
    };
    let Some(real) = st.real.execveat else {
        return fail(libc::ENOSYS);
    };
    if let Some(p) = cstr(path)
        && !check_argv(st, "execveat", Prog::At(dirfd, p, flags), argv)
    {
        return fail(libc::EPERM);
    }
    // SAFETY: forwarding the caller's arguments to libc's execveat.
    with_env(st, envp, |e| unsafe { real(dirfd, path, argv, e, flags) })
        .unwrap_or_else(|| fail(libc::ENOMEM))
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    func: &str,
    search: bool,
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let Some(st) = state() else {
        return libc::EIO;
    };
    let real = if search {
        st.real.posix_spawnp
    } else {
        st.real.posix_spawn
    };
    let Some(real) = real else {
        return libc::EIO;
    };
    if let Some(p) = cstr(path).filter(|p| !p.is_empty()) {
        let prog = if search {
            Prog::Search(p)
        } else {
            Prog::Path(p)
        };
        if !check_argv(st, func, prog, argv) {
            return libc::EPERM;
        }
    }
    // SAFETY: forwarding the caller's arguments to libc's posix_spawn(p).
    with_env(st, envp, |e| unsafe {
        real(pid, path, actions, attr, argv, e)
    })
    .unwrap_or(libc::ENOMEM)
}

/// Interposed `posix_spawn`.
///
/// # Safety
/// The C contract of `posix_spawn(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    spawn("posix_spawn", false, pid, path, actions, attr, argv, envp)
}

/// Interposed `posix_spawnp`.
///
/// # Safety
/// The C contract of `posix_spawnp(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    spawn("posix_spawnp", true, pid, file, actions, attr, argv, envp)
}

/// Interposed `system`: a refused command returns exit status 126, like a shell that cannot
/// execute a program.
///
/// # Safety
/// The C contract of `system(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn system(cmd: *const c_char) -> c_int {
    let Some(st) = state() else {
        return fail(libc::EIO);
    };
    let Some(real) = st.real.system else {
        return fail(libc::EIO);
    };
    if let Some(c) = cstr(cmd)
        && !check(st, "system", Command::Shell(c))
    {
        return 126 << 8;
    }
    // SAFETY: forwarding the caller's argument to libc's system.
    unsafe { real(cmd) }
}

/// Interposed `popen`: a refused command returns NULL with `errno` EPERM.
///
/// # Safety
/// The C contract of `popen(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn popen(cmd: *const c_char, mode: *const c_char) -> *mut FILE {
    let Some(st) = state() else {
        set_errno(libc::EIO);
        return std::ptr::null_mut();
    };
    let Some(real) = st.real.popen else {
        set_errno(libc::EIO);
        return std::ptr::null_mut();
    };
    if let Some(c) = cstr(cmd)
        && !check(st, "popen", Command::Shell(c))
    {
        set_errno(libc::EPERM);
        return std::ptr::null_mut();
    }
    // SAFETY: forwarding the caller's arguments to libc's popen.
    unsafe { real(cmd, mode) }
}
