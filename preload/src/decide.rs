//! From the server's answer (or the lack of one) to what the library does.

/// The library's mode (`RAMPART_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask, and refuse what the server denies.
    Enforce,
    /// Ask (so the server audits), then run whatever the answer.
    Monitor,
    /// Neither ask nor refuse.
    Disabled,
}

/// What happened when the server was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with `allowed: true`.
    Allowed,
    /// 200 with `allowed: false`.
    Denied,
    /// Could not connect, send or read in time, or the connection closed early.
    Unreachable(Transport),
    /// A 5xx status.
    ServerError(u16),
    /// Any other non-200 status (401 and 403 among them).
    Refused(u16),
    /// A 200 whose body is not a valid answer, or an unparseable HTTP answer.
    Malformed,
    /// The library could not ask: bad configuration, command too large, no memory.
    Internal(&'static str),
}

/// Which transport step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `socket` failed.
    Socket,
    /// Connection refused or failed.
    Connect,
    /// The connect or the exchange took too long.
    Timeout,
    /// Sending failed.
    Send,
    /// Receiving failed or the peer closed before a whole answer.
    Recv,
}

impl Transport {
    /// A short description for the stderr line.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Socket => "cannot create a socket",
            Transport::Connect => "connection failed",
            Transport::Timeout => "timed out",
            Transport::Send => "send failed",
            Transport::Recv => "connection closed before an answer",
        }
    }
}

/// What to do with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Call the real function.
    Run,
    /// Call the real function, after a one-line warning (fail-open).
    RunUnchecked,
    /// Refuse the call.
    Refuse,
}

/// The outcome table: transport failures (except having no socket at all) and 5xx follow the
/// fail-open setting; a denial, any other status, a malformed answer or an internal failure
/// refuse; monitor mode always runs.
pub fn action(mode: Mode, fail_open: bool, outcome: Outcome) -> Action {
    match (mode, outcome) {
        (Mode::Disabled, _) => Action::Run,
        (Mode::Monitor, Outcome::Unreachable(_) | Outcome::ServerError(_)) => Action::RunUnchecked,
        (Mode::Monitor, _) => Action::Run,
        (Mode::Enforce, Outcome::Allowed) => Action::Run,
        // No socket is a local failure (descriptors exhausted, say by `ulimit -n`), not a
        // server that is down: failing open here would be a bypass.
        (Mode::Enforce, Outcome::Unreachable(Transport::Socket)) => Action::Refuse,
        (Mode::Enforce, Outcome::Unreachable(_) | Outcome::ServerError(_)) => {
            if fail_open {
                Action::RunUnchecked
            } else {
                Action::Refuse
            }
        }
        (
            Mode::Enforce,
            Outcome::Denied | Outcome::Refused(_) | Outcome::Malformed | Outcome::Internal(_),
        ) => Action::Refuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use Action::*;
        let t = Outcome::Unreachable(Transport::Connect);
        for (mode, open, out, want) in [
            (Mode::Enforce, true, Outcome::Allowed, Run),
            (Mode::Enforce, true, Outcome::Denied, Refuse),
            (Mode::Enforce, true, t, RunUnchecked),
            (
                Mode::Enforce,
                true,
                Outcome::Unreachable(Transport::Socket),
                Refuse,
            ),
            (Mode::Enforce, false, t, Refuse),
            (Mode::Enforce, true, Outcome::ServerError(503), RunUnchecked),
            (Mode::Enforce, false, Outcome::ServerError(503), Refuse),
            (Mode::Enforce, true, Outcome::Refused(401), Refuse),
            (Mode::Enforce, true, Outcome::Malformed, Refuse),
            (Mode::Enforce, true, Outcome::Internal("x"), Refuse),
            (Mode::Monitor, false, Outcome::Denied, Run),
            (Mode::Monitor, false, t, RunUnchecked),
            (Mode::Monitor, false, Outcome::Refused(401), Run),
            (Mode::Disabled, false, Outcome::Denied, Run),
        ] {
            assert_eq!(action(mode, open, out), want, "{mode:?} {open} {out:?}");
        }
    }
}
