// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of af_ktls, compiled only into test builds (`--cfg ktls_kunit`).

#[kernel::macros::kunit_tests(af_ktls_socket)]
mod socket_tests {
    use crate::socket::SocketKind;
    use kernel::{
        bindings,
        prelude::*, //
    };

    #[test]
    fn stream_and_datagram_are_accepted() {
        let stream = bindings::sock_type_SOCK_STREAM as i32;
        let dgram = bindings::sock_type_SOCK_DGRAM as i32;
        assert_eq!(SocketKind::from_socket_args(stream, 0), Ok(SocketKind::Stream));
        assert_eq!(SocketKind::from_socket_args(dgram, 0), Ok(SocketKind::Datagram));
    }

    #[test]
    fn other_types_are_not_supported() {
        for sock_type in [
            bindings::sock_type_SOCK_RAW,
            bindings::sock_type_SOCK_SEQPACKET,
            bindings::sock_type_SOCK_RDM,
            0,
            99,
        ] {
            assert_eq!(
                SocketKind::from_socket_args(sock_type as i32, 0),
                Err(ESOCKTNOSUPPORT)
            );
        }
    }

    #[test]
    fn protocols_other_than_zero_are_not_supported() {
        let stream = bindings::sock_type_SOCK_STREAM as i32;
        assert_eq!(SocketKind::from_socket_args(stream, 6), Err(EPROTONOSUPPORT));
        // The type is checked first, as its errno is the more specific one.
        assert_eq!(SocketKind::from_socket_args(5, 6), Err(ESOCKTNOSUPPORT));
    }

    /// Fails on purpose in `make kunit-fail`, proving that `make check` notices failures.
    #[cfg(ktls_kunit_fail)]
    #[test]
    fn deliberately_failing_case() {
        assert_eq!(1 + 1, 3);
    }
}
