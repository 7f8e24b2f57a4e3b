#!/bin/sh
# Prints the pkg-config file of one libafktls library.
#   lib/pc.sh NAME VERSION LIBDIR INCLUDEDIR [EXTRA_INCLUDEDIR]
set -eu
name=$1 version=$2 libdir=$3 includedir=$4 extra=${5:-}
case "$name" in
    afktls) desc="AF_KTLS sockets: family number, socket, bind, keys, receive, close" requires= ;;
    afktls-openssl) desc="Hand a finished OpenSSL handshake to an AF_KTLS socket" requires="afktls libssl libcrypto" ;;
    afktls-gnutls) desc="Hand a finished GnuTLS handshake to an AF_KTLS socket" requires="afktls gnutls" ;;
    *) echo "pc.sh: unknown library $name" >&2; exit 2 ;;
esac
echo "libdir=$libdir"
echo "includedir=$includedir"
echo
echo "Name: $name"
echo "Description: $desc"
echo "Version: $version"
[ -z "$requires" ] || echo "Requires: $requires"
echo "Cflags: -I\${includedir}${extra:+ -I$extra}"
echo "Libs: -L\${libdir} -l$name"
