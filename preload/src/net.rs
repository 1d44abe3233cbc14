//! One request/answer exchange over a fresh loopback TCP connection, with a deadline. Raw
//! syscalls only (`socket`, `connect`, `poll`, `send`, `recv`, `close`): no allocation, no
//! locks, no signals (`MSG_NOSIGNAL`), and `SOCK_CLOEXEC` so a concurrent exec elsewhere in the
//! process never inherits the socket.

use crate::buf::Mapping;
use crate::config::Addr;
use crate::decide::Transport;
use crate::http::{MAX_RESPONSE_BODY, MAX_RESPONSE_HEAD, Parsed, parse};

struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this value owns.
        unsafe {
            libc::close(self.0);
        }
    }
}

#[allow(clippy::unnecessary_cast)] // time_t and c_long are i32 on 32-bit targets
fn now_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: CLOCK_MONOTONIC with a valid out-pointer.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    (ts.tv_sec as i64)
        .saturating_mul(1000)
        .saturating_add((ts.tv_nsec / 1_000_000) as i64)
}

fn errno() -> libc::c_int {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Waits for `events` on `fd` until `deadline` (monotonic ms).
fn wait(fd: libc::c_int, events: libc::c_short, deadline: i64) -> Result<(), Transport> {
    loop {
        let left = deadline.saturating_sub(now_ms());
        if left <= 0 {
            return Err(Transport::Timeout);
        }
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left.min(i64::from(i32::MAX)) as libc::c_int) };
        if r > 0 {
            return Ok(());
        }
        if r == 0 {
            return Err(Transport::Timeout);
        }
        if errno() != libc::EINTR {
            return Err(Transport::Recv);
        }
    }
}

fn connect(addr: Addr, deadline: i64) -> Result<Fd, Transport> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let (family, len) = match addr {
        Addr::V4(ip, port) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = port.to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(ip);
            (libc::AF_INET, std::mem::size_of::<libc::sockaddr_in>())
        }
        Addr::V6(ip, port) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = port.to_be();
            sin6.sin6_addr.s6_addr = ip;
            (libc::AF_INET6, std::mem::size_of::<libc::sockaddr_in6>())
        }
    };
    // SAFETY: plain socket creation.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(Transport::Socket);
    }
    let fd = Fd(fd);
    let one: libc::c_int = 1;
    // SAFETY: setting an int option from a valid pointer; failure is harmless.
    unsafe {
        libc::setsockopt(
            fd.0,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    // SAFETY: `ss` holds a valid address of `len` bytes.
    let r = unsafe {
        libc::connect(
            fd.0,
            (&ss as *const libc::sockaddr_storage).cast(),
            len as libc::socklen_t,
        )
    };
    if r != 0 {
        let e = errno();
        if e != libc::EINPROGRESS && e != libc::EINTR {
            return Err(Transport::Connect);
        }
        wait(fd.0, libc::POLLOUT, deadline)?;
        let mut err: libc::c_int = 0;
        let mut elen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: reading an int option into a valid buffer.
        let r = unsafe {
            libc::getsockopt(
                fd.0,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut elen,
            )
        };
        if r != 0 || err != 0 {
            return Err(Transport::Connect);
        }
    }
    Ok(fd)
}

/// Why an exchange produced no usable answer.
pub enum ExchangeError {
    /// The transport failed.
    Transport(Transport),
    /// The bytes received are not an acceptable HTTP answer (or memory for a large one could
    /// not be mapped).
    Malformed,
}

/// Answers up to this size are read into a stack buffer; larger ones move to a mapping.
const SMALL_ANSWER: usize = 8 * 1024;

/// Sends `req` and reads the answer; `on_answer` gets the status and the body.
pub fn exchange<R>(
    addr: Addr,
    req: &[u8],
    connect_ms: u32,
    total_ms: u32,
    on_answer: impl FnOnce(u16, &[u8]) -> R,
) -> Result<R, ExchangeError> {
    let start = now_ms();
    let deadline = start.saturating_add(i64::from(total_ms));
    let connect_deadline = start.saturating_add(i64::from(connect_ms.min(total_ms)));
    let fd = connect(addr, connect_deadline).map_err(ExchangeError::Transport)?;
    let mut sent = 0usize;
    while let Some(rest) = req.get(sent..).filter(|r| !r.is_empty()) {
        // SAFETY: sending from a valid slice.
        let n = unsafe { libc::send(fd.0, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            sent = sent.saturating_add(n as usize);
            continue;
        }
        match errno() {
            libc::EINTR => {}
            libc::EAGAIN => {
                wait(fd.0, libc::POLLOUT, deadline).map_err(ExchangeError::Transport)?
            }
            _ => return Err(ExchangeError::Transport(Transport::Send)),
        }
    }
    let mut small = [0u8; SMALL_ANSWER];
    let mut big: Option<Mapping> = None;
    let mut got = 0usize;
    loop {
        let buf: &mut [u8] = match big.as_mut() {
            Some(m) => m.bytes_mut(),
            None => &mut small,
        };
        if got >= buf.len() {
            if big.is_some() {
                return Err(ExchangeError::Malformed);
            }
            // A large answer: continue in a mapping big enough for the largest accepted.
            let mut m = Mapping::new(MAX_RESPONSE_HEAD.saturating_add(MAX_RESPONSE_BODY))
                .ok_or(ExchangeError::Malformed)?;
            if let (Some(dst), Some(src)) = (m.bytes_mut().get_mut(..got), small.get(..got)) {
                dst.copy_from_slice(src);
            }
            big = Some(m);
            continue;
        }
        let Some(room) = buf.get_mut(got..) else {
            return Err(ExchangeError::Malformed);
        };
        // SAFETY: receiving into a valid slice.
        let n = unsafe { libc::recv(fd.0, room.as_mut_ptr().cast(), room.len(), 0) };
        let eof = n == 0;
        if n < 0 {
            match errno() {
                libc::EINTR => continue,
                libc::EAGAIN => {
                    wait(fd.0, libc::POLLIN, deadline).map_err(ExchangeError::Transport)?;
                    continue;
                }
                _ => return Err(ExchangeError::Transport(Transport::Recv)),
            }
        }
        got = got.saturating_add(n as usize);
        let Some(filled) = buf.get_mut(..got) else {
            return Err(ExchangeError::Malformed);
        };
        match parse(filled, eof) {
            Parsed::Done { status, start, end } => {
                return match filled.get(start..end) {
                    Some(body) => Ok(on_answer(status, body)),
                    None => Err(ExchangeError::Malformed),
                };
            }
            // An empty or cut-off answer is a transport failure; garbage is malformed.
            Parsed::Bad if eof && parse(filled, false) == Parsed::Incomplete => {
                return Err(ExchangeError::Transport(Transport::Recv));
            }
            Parsed::Bad => return Err(ExchangeError::Malformed),
            Parsed::Incomplete if eof => return Err(ExchangeError::Transport(Transport::Recv)),
            Parsed::Incomplete => {}
        }
    }
}
