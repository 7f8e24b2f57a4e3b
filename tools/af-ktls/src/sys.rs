//! The crate's only system calls: thin wrappers that turn C return conventions into
//! `io::Result` and keep every `unsafe` block small and next to its justification.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

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

pub(crate) fn socket(family: libc::c_int, kind: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes only integers.
    let fd = check(unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a non-negative return is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind(2)` with an address given as its raw bytes.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(addr.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `addr` is valid for `len` bytes for the duration of the call; the kernel only reads.
    check(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr().cast(), len) })?;
    Ok(())
}

pub(crate) fn setsockopt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(value.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `value` is valid for `len` bytes for the duration of the call; the kernel only reads.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), len) })?;
    Ok(())
}

/// `getsockopt(2)` into `buf`; returns how many bytes the kernel wrote.
pub(crate) fn getsockopt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut len = libc::socklen_t::try_from(buf.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `buf` is writable for `len` bytes and `len` is a valid in/out length for the call.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    usize::try_from(len).map_err(|_| io::ErrorKind::InvalidData.into())
}

pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its length for the duration of the call.
    check_len(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) })
}

pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length for the duration of the call.
    check_len(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) })
}

pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown(2) takes only integers; `fd` is live for the call.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) })?;
    Ok(())
}

/// Room for one control message with a one-byte payload, aligned for `cmsghdr`
/// (CMSG_SPACE(1) is 24 on 64-bit Linux; 64 leaves headroom).
#[repr(C, align(8))]
struct ControlBuffer([u8; 64]);
/// `size_of::<ControlBuffer>()` as the C types want it (a u32 converts to both size_t and
/// socklen_t).
const CONTROL_LEN: u32 = 64;
const _: () = assert!(size_of::<ControlBuffer>() == CONTROL_LEN as usize);

/// `sendmsg(2)` of `buf` with one control message `(level, cmsg_type)` carrying `content_type`:
/// how kernel TLS and AF_KTLS are told to send a non-data record (e.g. an alert).
pub(crate) fn send_with_record_type(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    cmsg_type: libc::c_int,
    content_type: u8,
    buf: &[u8],
    flags: libc::c_int,
) -> io::Result<usize> {
    let mut control = ControlBuffer([0; 64]);
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data (integers and pointers); all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    // The length fields are size_t on glibc and socklen_t elsewhere: convert, never truncate.
    let too_long = |_| io::Error::from(io::ErrorKind::InvalidInput);
    // SAFETY: CMSG_SPACE/CMSG_LEN only compute sizes.
    let (space, cmsg_len) = unsafe { (libc::CMSG_SPACE(1), libc::CMSG_LEN(1)) };
    msg.msg_controllen = space.try_into().map_err(too_long)?;
    let cmsg_len = cmsg_len.try_into().map_err(too_long)?;
    // SAFETY: msg_control points at `control`, which is aligned and larger than CMSG_SPACE(1), so
    // the first header and its one data byte lie inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = cmsg_type;
        (*cmsg).cmsg_len = cmsg_len;
        *libc::CMSG_DATA(cmsg) = content_type;
    }
    // SAFETY: `msg` points at `iov` (reading `buf`, which sendmsg never writes despite the
    // mutable pointer type) and at `control`, all alive for the call.
    check_len(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) })
}

/// Result of [`recv_with_record_type`].
pub(crate) struct RecvWithType {
    pub len: usize,
    pub content_type: Option<u8>,
    pub control_truncated: bool,
}

/// `recvmsg(2)` into `buf`, returning the one-byte `(level, cmsg_type)` control message if the
/// kernel attached one (the record's content type).
pub(crate) fn recv_with_record_type(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    cmsg_type: libc::c_int,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<RecvWithType> {
    let mut control = ControlBuffer([0; 64]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data (integers and pointers); all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = CONTROL_LEN
        .try_into()
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `msg` points at `iov` (writable `buf`) and `control`, both alive for the call.
    let len = check_len(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })?;

    let mut content_type = None;
    // SAFETY: the kernel filled `control` and set msg_controllen; CMSG_FIRSTHDR/CMSG_NXTHDR stay
    // within msg_control..msg_control+msg_controllen and return null past the end, and a header
    // is only read after checking its length covers the one data byte.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == level
                && (*cmsg).cmsg_type == cmsg_type
                && (*cmsg).cmsg_len as usize >= libc::CMSG_LEN(1) as usize
            {
                content_type = Some(*libc::CMSG_DATA(cmsg));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(RecvWithType {
        len,
        content_type,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}
