//! The data phase: one non-blocking loop that sends and receives at the same time (so neither
//! side can fill its buffers and stall the other), for streams (TLS) and datagrams (DTLS).

use crate::channel::{Channel, Incoming, RecordCounts};
use crate::error::{Error, Result};
use crate::pattern::{Pattern, ReceivedStream, SentStream};
use af_ktls::key_update::KeyUpdateCounts;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// DTLS framing between two ktls-tools: the first plaintext byte of every datagram.
pub mod frame {
    /// Client → server through the TLS library right after the handshake: proves the client got
    /// the server's last flight, so the server may stop answering retransmissions.
    pub const START: u8 = b'S';
    /// Followed by pattern bytes.
    pub const DATA: u8 = b'D';
    /// Followed by the receiver's total of data bytes received, u64 big endian.
    pub const ACK: u8 = b'A';
}

/// Acknowledge at least this often (bytes), and whenever the receive queue runs dry.
const ACK_INTERVAL: u64 = 32 * 1024;
/// The DTLS window must hold two acknowledgement intervals, or sender and receiver could wait
/// for each other.
pub const MIN_WINDOW: u64 = 2 * ACK_INTERVAL;

pub struct Plan<'a> {
    pub size: u64,
    pub payload: usize,
    pub sends: bool,
    pub receives: bool,
    pub send_pattern: &'a Pattern,
    pub expected: &'a Pattern,
    /// Stop when nothing moves for this long.
    pub idle_timeout: Duration,
    /// DTLS between ktls-tools: window in bytes. `None`: bare data (TLS, or DTLS with a generic
    /// peer).
    pub dtls_window: Option<u64>,
    /// UDP: no lingering for the peer's close after the transfer (no reset to avoid).
    pub datagram: bool,
    /// TLS 1.3: a KeyUpdate (`update_requested`) before the data at each multiple of this many
    /// bytes sent.
    pub key_update_every: Option<u64>,
}

pub struct Outcome<'a> {
    pub sent: SentStream,
    pub received: ReceivedStream<'a>,
    pub seconds: f64,
    /// Non-data records skipped (e.g. NewSessionTickets), by kind.
    pub skipped: Vec<&'static str>,
    /// Records moved by the transfer itself (before close_notify), when the backend knows.
    pub records: RecordCounts,
    /// How the connection ended after the transfer.
    pub close: String,
    /// KeyUpdates this side started (`--key-update-every`).
    pub key_updates_requested: u64,
    /// KeyUpdates sent and received, close included, when the backend counts them.
    pub key_updates: Option<KeyUpdateCounts>,
}

fn wait(fd: RawFd, read: bool, write: bool, timeout: Duration) -> Result<bool> {
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `pfd` is one valid pollfd for the duration of the call.
    let ret = unsafe { libc::poll(&mut pfd, 1, ms) };
    if ret < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            return Ok(true);
        }
        return Err(Error::io("poll", err));
    }
    Ok(ret > 0)
}

/// Waits until `fd` is readable (e.g. a listening socket has a connection); false on timeout.
pub fn wait_readable(fd: &impl std::os::fd::AsRawFd, timeout: Duration) -> Result<bool> {
    wait(fd.as_raw_fd(), true, false, timeout)
}

/// Moves the data. `early` is application data the TLS library delivered before the handoff; it
/// counts as the start of the received stream.
pub fn run<'a>(channel: &mut dyn Channel, plan: &Plan<'a>, early: &[u8]) -> Result<Outcome<'a>> {
    let mut out = Outcome {
        sent: SentStream::new(),
        received: ReceivedStream::new(plan.expected, if plan.receives { plan.size } else { 0 }),
        seconds: 0.0,
        skipped: Vec::new(),
        records: RecordCounts::default(),
        close: String::new(),
        key_updates_requested: 0,
        key_updates: None,
    };
    if !early.is_empty() {
        out.received.record(early);
    }
    let start = Instant::now();
    match plan.dtls_window {
        Some(window) => run_framed_datagrams(channel, plan, &mut out, window)?,
        None => run_bare(channel, plan, &mut out)?,
    }
    out.seconds = start.elapsed().as_secs_f64();
    out.records = channel.records();
    out.close = finish(channel, plan, &mut out)?;
    out.key_updates = channel.key_updates();
    Ok(out)
}

/// TLS streams and DTLS with generic peers: plain pattern bytes both ways.
fn run_bare(channel: &mut dyn Channel, plan: &Plan<'_>, out: &mut Outcome<'_>) -> Result<()> {
    let mut buf = vec![0u8; 65536];
    let mut last_progress = Instant::now();
    let mut next_key_update = plan.key_update_every.unwrap_or(u64::MAX);
    loop {
        let sending = plan.sends && out.sent.bytes < plan.size;
        let receiving = plan.receives && !out.received.complete();
        if !sending && !receiving && !channel.pending_output() {
            return Ok(());
        }
        let mut progressed = false;
        if sending {
            if out.sent.bytes >= next_key_update {
                channel.request_key_update()?;
                out.key_updates_requested += 1;
                next_key_update =
                    next_key_update.saturating_add(plan.key_update_every.unwrap_or(u64::MAX));
            }
            // Data never spans a KeyUpdate point, so the updates fall exactly at the multiples.
            let len =
                usize::try_from((plan.size - out.sent.bytes).min(next_key_update - out.sent.bytes))
                    .unwrap_or(usize::MAX)
                    .min(plan.payload);
            let data = plan.send_pattern.slice(out.sent.bytes, len);
            if let Some(n) = channel.send(data)? {
                out.sent.record(&data[..n]);
                progressed |= n > 0;
            }
        }
        if channel.pending_output() {
            channel.flush()?;
        }
        if receiving {
            match channel.recv(&mut buf)? {
                Incoming::Data(n) => {
                    out.received.record(&buf[..n]);
                    progressed = true;
                }
                Incoming::WouldBlock => {}
                Incoming::Skipped(what) => {
                    out.skipped.push(what);
                    progressed = true;
                }
                Incoming::KeyUpdate(_) => progressed = true,
                Incoming::Closed => {
                    return Err(Error::msg(format!(
                        "peer closed after {} of {} bytes",
                        out.received.bytes, plan.size
                    )))
                }
            }
        }
        if progressed {
            last_progress = Instant::now();
        } else {
            if last_progress.elapsed() > plan.idle_timeout {
                return Err(stalled(plan, out));
            }
            let want_write = sending || channel.pending_output();
            wait(
                channel.poll_fd(),
                receiving,
                want_write,
                Duration::from_millis(200),
            )?;
        }
    }
}

/// DTLS between two ktls-tools: typed datagrams and a send window, so no datagram is sent into a
/// full receive buffer (UDP would drop it and the hash would fail).
fn run_framed_datagrams(
    channel: &mut dyn Channel,
    plan: &Plan<'_>,
    out: &mut Outcome<'_>,
    window: u64,
) -> Result<()> {
    let mut buf = vec![0u8; 65536];
    let mut datagram = Vec::with_capacity(plan.payload + 1);
    let mut acked = 0u64;
    let mut acknowledged_to_peer = 0u64;
    let mut last_progress = Instant::now();
    loop {
        let sending = plan.sends && out.sent.bytes < plan.size;
        let awaiting_ack = plan.sends && acked < plan.size;
        let receiving = plan.receives && !out.received.complete();
        let owe_ack = plan.receives && acknowledged_to_peer < out.received.bytes;
        if !awaiting_ack && !receiving && !owe_ack {
            return Ok(());
        }
        let mut progressed = false;
        if sending && out.sent.bytes - acked < window {
            let len = usize::try_from(plan.size - out.sent.bytes)
                .unwrap_or(usize::MAX)
                .min(plan.payload);
            let data = plan.send_pattern.slice(out.sent.bytes, len);
            datagram.clear();
            datagram.push(frame::DATA);
            datagram.extend_from_slice(data);
            if channel.send(&datagram)?.is_some() {
                out.sent.record(data);
                progressed = true;
            }
        }
        let mut queue_empty = false;
        match channel.recv(&mut buf)? {
            Incoming::Data(n) => {
                progressed = true;
                match buf[..n].split_first() {
                    Some((&frame::DATA, data)) => out.received.record(data),
                    Some((&frame::ACK, total)) => {
                        let total: [u8; 8] = total
                            .try_into()
                            .map_err(|_| Error::msg("malformed DTLS acknowledgement"))?;
                        acked = acked.max(u64::from_be_bytes(total));
                    }
                    // A duplicate start message is harmless.
                    Some((&frame::START, _)) => {}
                    _ => {
                        return Err(Error::msg(
                            "unexpected DTLS datagram (is the peer --peer-generic?)",
                        ))
                    }
                }
            }
            Incoming::WouldBlock => queue_empty = true,
            Incoming::Skipped(what) => out.skipped.push(what),
            Incoming::KeyUpdate(_) => progressed = true,
            Incoming::Closed => {
                return Err(Error::msg(format!(
                    "peer closed with {} of {} bytes received and {} of {} acknowledged",
                    out.received.bytes, plan.size, acked, plan.size
                )))
            }
        }
        let unacked_here = out.received.bytes - acknowledged_to_peer;
        if plan.receives
            && unacked_here > 0
            && (unacked_here >= ACK_INTERVAL || queue_empty || out.received.complete())
        {
            let mut ack = [0u8; 9];
            ack[0] = frame::ACK;
            ack[1..].copy_from_slice(&out.received.bytes.to_be_bytes());
            match channel.send(&ack) {
                Ok(Some(_)) => acknowledged_to_peer = out.received.bytes,
                Ok(None) => {}
                // Once everything arrived the peer may already have finished and gone.
                Err(_) if out.received.complete() && !awaiting_ack => {
                    acknowledged_to_peer = out.received.bytes
                }
                Err(e) => return Err(e),
            }
        }
        if progressed {
            last_progress = Instant::now();
        } else {
            if last_progress.elapsed() > plan.idle_timeout {
                return Err(stalled(plan, out));
            }
            wait(channel.poll_fd(), true, false, Duration::from_millis(50))?;
        }
    }
}

fn stalled(plan: &Plan<'_>, out: &Outcome<'_>) -> Error {
    Error::msg(format!(
        "no progress for {} s: sent {} of {}, received {} of {} bytes{}",
        plan.idle_timeout.as_secs(),
        out.sent.bytes,
        if plan.sends { plan.size } else { 0 },
        out.received.bytes,
        if plan.receives { plan.size } else { 0 },
        if plan.dtls_window.is_none() && plan.receives {
            " (lost datagrams, or a peer waiting for more?)"
        } else {
            ""
        }
    ))
}

/// Sends close_notify, then waits briefly for the peer's end so that closing the socket never
/// resets a connection the peer is still reading. Data after the expected stream is a mismatch.
fn finish(channel: &mut dyn Channel, plan: &Plan<'_>, out: &mut Outcome<'_>) -> Result<String> {
    channel.close()?;
    if plan.datagram {
        // UDP has no reset to avoid, and DTLS peers need not answer close_notify.
        return Ok("close_notify sent".to_string());
    }
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + plan.idle_timeout.min(Duration::from_secs(5));
    loop {
        if channel.pending_output() {
            channel.flush()?;
        }
        let incoming = match channel.recv(&mut buf) {
            Ok(incoming) => incoming,
            // A reset after everything arrived is the peer's way of closing, not a failure.
            Err(e) => return Ok(format!("peer ended with an error after the transfer: {e}")),
        };
        match incoming {
            Incoming::Closed => return Ok("clean".to_string()),
            Incoming::Data(n) => {
                out.received.record(&buf[..n]);
                if !plan.receives {
                    return Err(Error::msg("peer sent data although --direction send"));
                }
            }
            Incoming::Skipped(what) => out.skipped.push(what),
            Incoming::KeyUpdate(_) => {}
            Incoming::WouldBlock => {
                if Instant::now() > deadline {
                    return Ok("peer did not close within 5 s".to_string());
                }
                wait(channel.poll_fd(), true, false, Duration::from_millis(100))?;
            }
        }
    }
}
