//! Compiles a tiny C program against `include/uapi/linux/ktls.h` with the system C compiler and
//! compares every constant, size and offset it prints with the Rust mirror in `af_ktls::uapi`.
//! This is what keeps the two from drifting apart when the header changes.

use af_ktls::uapi::*;
use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

const PROGRAM: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include <linux/ktls.h>

#define V(x) printf("%s %lld\n", #x, (long long)(x))
#define S(t) printf("sizeof_%s %zu\n", #t, sizeof(struct t))
#define O(t, f) printf("offsetof_%s_%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
	V(AF_KTLS); V(PF_KTLS); V(SOL_KTLS);
	V(KTLS_VERSION_TLS_1_2); V(KTLS_VERSION_TLS_1_3); V(KTLS_VERSION_DTLS_1_2);
	V(KTLS_CIPHER_AES_GCM_128); V(KTLS_CIPHER_AES_GCM_256); V(KTLS_CIPHER_CHACHA20_POLY1305);
	V(KTLS_TX); V(KTLS_RX); V(KTLS_TX_MAX_PAYLOAD_LEN); V(KTLS_DTLS_MTU);
	V(KTLS_SET_RECORD_TYPE); V(KTLS_GET_RECORD_TYPE);
	V(KTLS_RECORD_CHANGE_CIPHER_SPEC); V(KTLS_RECORD_ALERT); V(KTLS_RECORD_HANDSHAKE);
	V(KTLS_RECORD_APPLICATION_DATA);
	V(KTLS_AES_GCM_128_IV_SIZE); V(KTLS_AES_GCM_128_KEY_SIZE); V(KTLS_AES_GCM_128_SALT_SIZE);
	V(KTLS_AES_GCM_128_REC_SEQ_SIZE);
	V(KTLS_AES_GCM_256_IV_SIZE); V(KTLS_AES_GCM_256_KEY_SIZE); V(KTLS_AES_GCM_256_SALT_SIZE);
	V(KTLS_AES_GCM_256_REC_SEQ_SIZE);
	V(KTLS_CHACHA20_POLY1305_IV_SIZE); V(KTLS_CHACHA20_POLY1305_KEY_SIZE);
	V(KTLS_CHACHA20_POLY1305_SALT_SIZE); V(KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE);

	S(sockaddr_ktls);
	O(sockaddr_ktls, sa_family); O(sockaddr_ktls, sa_cipher); O(sockaddr_ktls, sa_version);
	O(sockaddr_ktls, sa_reserved); O(sockaddr_ktls, sa_socket);
	S(ktls_crypto_info);
	O(ktls_crypto_info, version); O(ktls_crypto_info, cipher_type);
	S(ktls_crypto_info_aes_gcm_128);
	O(ktls_crypto_info_aes_gcm_128, info); O(ktls_crypto_info_aes_gcm_128, iv);
	O(ktls_crypto_info_aes_gcm_128, key); O(ktls_crypto_info_aes_gcm_128, salt);
	O(ktls_crypto_info_aes_gcm_128, rec_seq);
	S(ktls_crypto_info_aes_gcm_256);
	O(ktls_crypto_info_aes_gcm_256, info); O(ktls_crypto_info_aes_gcm_256, iv);
	O(ktls_crypto_info_aes_gcm_256, key); O(ktls_crypto_info_aes_gcm_256, salt);
	O(ktls_crypto_info_aes_gcm_256, rec_seq);
	S(ktls_crypto_info_chacha20_poly1305);
	O(ktls_crypto_info_chacha20_poly1305, info); O(ktls_crypto_info_chacha20_poly1305, iv);
	O(ktls_crypto_info_chacha20_poly1305, key); O(ktls_crypto_info_chacha20_poly1305, rec_seq);
	return 0;
}
"#;

fn c_values() -> BTreeMap<String, i64> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let include = manifest.join("../../include/uapi");
    let dir = std::env::temp_dir().join(format!("ktls-c-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let source = dir.join("layout.c");
    let binary = dir.join("layout");
    std::fs::write(&source, PROGRAM).expect("write C source");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(status.success(), "compiling against ktls.h failed");
    let output = Command::new(&binary).output().expect("run layout program");
    assert!(output.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(' ').expect("name value");
            (name.to_string(), value.parse().expect("number"))
        })
        .collect()
}

#[test]
fn rust_mirror_matches_the_c_header() {
    let c = c_values();
    let mut rust: BTreeMap<&str, i64> = BTreeMap::new();
    let mut put = |name: &'static str, value: i64| {
        rust.insert(name, value);
    };
    put("AF_KTLS", AF_KTLS.into());
    put("PF_KTLS", PF_KTLS.into());
    put("SOL_KTLS", SOL_KTLS.into());
    put("KTLS_VERSION_TLS_1_2", KTLS_VERSION_TLS_1_2.into());
    put("KTLS_VERSION_TLS_1_3", KTLS_VERSION_TLS_1_3.into());
    put("KTLS_VERSION_DTLS_1_2", KTLS_VERSION_DTLS_1_2.into());
    put("KTLS_CIPHER_AES_GCM_128", KTLS_CIPHER_AES_GCM_128.into());
    put("KTLS_CIPHER_AES_GCM_256", KTLS_CIPHER_AES_GCM_256.into());
    put(
        "KTLS_CIPHER_CHACHA20_POLY1305",
        KTLS_CIPHER_CHACHA20_POLY1305.into(),
    );
    put("KTLS_TX", KTLS_TX.into());
    put("KTLS_RX", KTLS_RX.into());
    put("KTLS_TX_MAX_PAYLOAD_LEN", KTLS_TX_MAX_PAYLOAD_LEN.into());
    put("KTLS_DTLS_MTU", KTLS_DTLS_MTU.into());
    put("KTLS_SET_RECORD_TYPE", KTLS_SET_RECORD_TYPE.into());
    put("KTLS_GET_RECORD_TYPE", KTLS_GET_RECORD_TYPE.into());
    put(
        "KTLS_RECORD_CHANGE_CIPHER_SPEC",
        KTLS_RECORD_CHANGE_CIPHER_SPEC.into(),
    );
    put("KTLS_RECORD_ALERT", KTLS_RECORD_ALERT.into());
    put("KTLS_RECORD_HANDSHAKE", KTLS_RECORD_HANDSHAKE.into());
    put(
        "KTLS_RECORD_APPLICATION_DATA",
        KTLS_RECORD_APPLICATION_DATA.into(),
    );
    let n = |v: usize| i64::try_from(v).expect("small");
    put("KTLS_AES_GCM_128_IV_SIZE", n(KTLS_AES_GCM_128_IV_SIZE));
    put("KTLS_AES_GCM_128_KEY_SIZE", n(KTLS_AES_GCM_128_KEY_SIZE));
    put("KTLS_AES_GCM_128_SALT_SIZE", n(KTLS_AES_GCM_128_SALT_SIZE));
    put(
        "KTLS_AES_GCM_128_REC_SEQ_SIZE",
        n(KTLS_AES_GCM_128_REC_SEQ_SIZE),
    );
    put("KTLS_AES_GCM_256_IV_SIZE", n(KTLS_AES_GCM_256_IV_SIZE));
    put("KTLS_AES_GCM_256_KEY_SIZE", n(KTLS_AES_GCM_256_KEY_SIZE));
    put("KTLS_AES_GCM_256_SALT_SIZE", n(KTLS_AES_GCM_256_SALT_SIZE));
    put(
        "KTLS_AES_GCM_256_REC_SEQ_SIZE",
        n(KTLS_AES_GCM_256_REC_SEQ_SIZE),
    );
    put(
        "KTLS_CHACHA20_POLY1305_IV_SIZE",
        n(KTLS_CHACHA20_POLY1305_IV_SIZE),
    );
    put(
        "KTLS_CHACHA20_POLY1305_KEY_SIZE",
        n(KTLS_CHACHA20_POLY1305_KEY_SIZE),
    );
    put(
        "KTLS_CHACHA20_POLY1305_SALT_SIZE",
        n(KTLS_CHACHA20_POLY1305_SALT_SIZE),
    );
    put(
        "KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE",
        n(KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE),
    );

    put("sizeof_sockaddr_ktls", n(size_of::<sockaddr_ktls>()));
    put(
        "offsetof_sockaddr_ktls_sa_family",
        n(offset_of!(sockaddr_ktls, sa_family)),
    );
    put(
        "offsetof_sockaddr_ktls_sa_cipher",
        n(offset_of!(sockaddr_ktls, sa_cipher)),
    );
    put(
        "offsetof_sockaddr_ktls_sa_version",
        n(offset_of!(sockaddr_ktls, sa_version)),
    );
    put(
        "offsetof_sockaddr_ktls_sa_reserved",
        n(offset_of!(sockaddr_ktls, sa_reserved)),
    );
    put(
        "offsetof_sockaddr_ktls_sa_socket",
        n(offset_of!(sockaddr_ktls, sa_socket)),
    );
    put("sizeof_ktls_crypto_info", n(size_of::<ktls_crypto_info>()));
    put(
        "offsetof_ktls_crypto_info_version",
        n(offset_of!(ktls_crypto_info, version)),
    );
    put(
        "offsetof_ktls_crypto_info_cipher_type",
        n(offset_of!(ktls_crypto_info, cipher_type)),
    );
    put(
        "sizeof_ktls_crypto_info_aes_gcm_128",
        n(size_of::<ktls_crypto_info_aes_gcm_128>()),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_128_info",
        n(offset_of!(ktls_crypto_info_aes_gcm_128, info)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_128_iv",
        n(offset_of!(ktls_crypto_info_aes_gcm_128, iv)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_128_key",
        n(offset_of!(ktls_crypto_info_aes_gcm_128, key)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_128_salt",
        n(offset_of!(ktls_crypto_info_aes_gcm_128, salt)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_128_rec_seq",
        n(offset_of!(ktls_crypto_info_aes_gcm_128, rec_seq)),
    );
    put(
        "sizeof_ktls_crypto_info_aes_gcm_256",
        n(size_of::<ktls_crypto_info_aes_gcm_256>()),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_256_info",
        n(offset_of!(ktls_crypto_info_aes_gcm_256, info)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_256_iv",
        n(offset_of!(ktls_crypto_info_aes_gcm_256, iv)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_256_key",
        n(offset_of!(ktls_crypto_info_aes_gcm_256, key)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_256_salt",
        n(offset_of!(ktls_crypto_info_aes_gcm_256, salt)),
    );
    put(
        "offsetof_ktls_crypto_info_aes_gcm_256_rec_seq",
        n(offset_of!(ktls_crypto_info_aes_gcm_256, rec_seq)),
    );
    put(
        "sizeof_ktls_crypto_info_chacha20_poly1305",
        n(size_of::<ktls_crypto_info_chacha20_poly1305>()),
    );
    put(
        "offsetof_ktls_crypto_info_chacha20_poly1305_info",
        n(offset_of!(ktls_crypto_info_chacha20_poly1305, info)),
    );
    put(
        "offsetof_ktls_crypto_info_chacha20_poly1305_iv",
        n(offset_of!(ktls_crypto_info_chacha20_poly1305, iv)),
    );
    put(
        "offsetof_ktls_crypto_info_chacha20_poly1305_key",
        n(offset_of!(ktls_crypto_info_chacha20_poly1305, key)),
    );
    put(
        "offsetof_ktls_crypto_info_chacha20_poly1305_rec_seq",
        n(offset_of!(ktls_crypto_info_chacha20_poly1305, rec_seq)),
    );

    let rust: BTreeMap<String, i64> = rust.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    assert_eq!(c, rust, "C header (left) and Rust mirror (right) differ");
}
