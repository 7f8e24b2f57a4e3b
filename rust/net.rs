// SPDX-License-Identifier: GPL-2.0

//! A safe layer over the kernel's socket API for a socket family written in Rust.
//!
//! It knows nothing of TLS: a family implements [`socket::SocketOps`] on the state of its sockets
//! and registers it with [`family::Registration`]; its operations get safe views of their socket
//! and message ([`socket::Socket`], [`socket::Msg`]) and work with other sockets through
//! [`inet::InetSocket`], a connected TCP or UDP socket taken from a file descriptor, whose
//! wake-ups a [`wait::WaitEntry`] can watch. All `unsafe` of the family's sockets lives here and
//! in the C helpers (`rust/helpers.c`), written the way `rust/kernel/miscdevice.rs` wraps
//! `file_operations`.
//!
//! C headers: [`include/linux/net.h`](srctree/include/linux/net.h),
//! [`include/net/sock.h`](srctree/include/net/sock.h).

pub(crate) mod family;
pub(crate) mod inet;
pub(crate) mod sock;
pub(crate) mod socket;
pub(crate) mod wait;
