//! The system calls the scenarios make, as thin wrappers that turn C conventions into
//! `io::Result`, with every `unsafe` block next to its justification.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_len(ret: libc::ssize_t) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// A connected TCP pair on loopback: (client, server), both with `TCP_NODELAY`, as servers
/// set it: without it a small record can wait for the peer's delayed ACK (Nagle's algorithm),
/// which measures TCP's timers instead of the record layer.
pub fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}

/// A connected UDP pair on loopback: (client, server).
pub fn udp_pair() -> io::Result<(UdpSocket, UdpSocket)> {
    let a = UdpSocket::bind("127.0.0.1:0")?;
    let b = UdpSocket::bind("127.0.0.1:0")?;
    a.connect(b.local_addr()?)?;
    b.connect(a.local_addr()?)?;
    Ok((a, b))
}

pub fn send(fd: BorrowedFd<'_>, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its length for the duration of the call.
    check_len(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) })
}

/// Sends all of `buf`, retrying on short writes and EINTR; returns the number of calls made.
pub fn send_all(fd: BorrowedFd<'_>, mut buf: &[u8], flags: libc::c_int) -> io::Result<u64> {
    let mut calls = 0;
    while !buf.is_empty() {
        calls += 1;
        match send(fd, buf, flags | libc::MSG_NOSIGNAL) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(calls)
}

pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is writable for its length for the duration of the call.
        let ret = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
        match check_len(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// TCP `recv(MSG_TRUNC)`: drops up to `len` queued bytes without copying them anywhere.
pub fn recv_discard(fd: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: with MSG_TRUNC, TCP never writes to the buffer (a null pointer is allowed).
        let ret = unsafe { libc::recv(fd.as_raw_fd(), std::ptr::null_mut(), len, libc::MSG_TRUNC) };
        match check_len(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// `sendfile(2)` of up to `count` bytes of `file` from `*offset` into `socket`.
pub fn sendfile(
    socket: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut libc::off_t,
    count: usize,
) -> io::Result<usize> {
    loop {
        // SAFETY: `offset` is a valid, exclusive pointer for the call; the descriptors are live.
        let ret = unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), offset, count) };
        match check_len(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// `splice(2)` between two descriptors without offsets (sockets and pipes).
pub fn splice(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    flags: libc::c_uint,
) -> io::Result<usize> {
    loop {
        // SAFETY: null offsets are allowed for pipes and sockets; the descriptors are live.
        let ret = unsafe {
            libc::splice(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                to.as_raw_fd(),
                std::ptr::null_mut(),
                len,
                flags,
            )
        };
        match check_len(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A pipe: (read end, write end), resized to `size` bytes.
pub fn pipe(size: usize) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both are new descriptors that nothing else owns.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let size = libc::c_int::try_from(size).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: F_SETPIPE_SZ takes an integer argument.
    check(unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, size) })?;
    Ok((r, w))
}

pub fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` lives on the stack for the duration of the call; the kernel only reads it.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            len,
        )
    })?;
    Ok(())
}

/// `SO_RCVTIMEO` and `SO_SNDTIMEO`: a stuck measurement fails instead of hanging the run.
pub fn set_timeouts(fd: BorrowedFd<'_>, timeout: std::time::Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
    };
    let len = size_of::<libc::timeval>() as libc::socklen_t;
    for name in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: `tv` lives on the stack for the duration of the call; the kernel only reads.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&tv as *const libc::timeval).cast(),
                len,
            )
        })?;
    }
    Ok(())
}

/// The calling thread's CPU time so far: (user, system) seconds.
pub fn thread_cpu() -> (f64, f64) {
    // SAFETY: rusage is plain data; all-zero is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { zeroed() };
    // SAFETY: `usage` is a valid, exclusive pointer for the call.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// `memfd`-free temporary file in a tmpfs directory, unlinked at once: its pages stay in the page
/// cache, which is what `sendfile` of a cached file reads.
pub fn tmpfs_file(dir: &str, contents_len: u64) -> io::Result<std::fs::File> {
    let path = format!("{dir}/ktls-bench.{}", std::process::id());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    file.set_len(contents_len)?;
    Ok(file)
}
