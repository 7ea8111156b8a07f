#!/bin/sh
# TLS=self-signed: a private certificate authority and a certificate for SERVER_NAME signed
# by it, made with openssl the first time and reused on every later start, for the native
# stack ($STATE_DIR/tls) and the container (a named volume) alike. render-conf.sh runs it.
#
#   tls-selfsigned.sh DIR SERVER_NAME
#
# DIR then holds ca.crt (what clients trust: `curl --cacert DIR/ca.crt`, or import it into
# a browser or the system store), ca.key, server.crt and server.key. The CA is made once:
# whoever trusts it keeps trusting it. The server certificate names SERVER_NAME, localhost,
# 127.0.0.1 and ::1; it is made again, by the same CA, when it is missing, does not name
# SERVER_NAME, was not signed by this CA, or expires within 30 days.
set -eu
dir=${1:?usage: tls-selfsigned.sh DIR SERVER_NAME}
name=${2:?usage: tls-selfsigned.sh DIR SERVER_NAME}
say() { echo "tls-selfsigned: $*" >&2; }

# A host name or an IP address: it goes into an openssl configuration line.
case $name in
    *[!A-Za-z0-9.:-]*|.*|-*) say "SERVER_NAME=$name: expected a host name or an IP address"; exit 2 ;;
esac
if printf '%s' "$name" | grep -Eq '^([0-9]{1,3}\.){3}[0-9]{1,3}$|:'; then
    name_san="IP:$name" check="-verify_ip $name"
else
    name_san="DNS:$name" check="-verify_hostname $name"
fi

umask 077
mkdir -p "$dir"
trap 'rm -f "$dir"/*.tmp' EXIT
[ -w "$dir" ] || { say "$dir: cannot write there as $(id -un)"; exit 2; }

if ! [ -s "$dir/ca.crt" ] || ! [ -s "$dir/ca.key" ]; then
    say "making a private CA in $dir (trust $dir/ca.crt, or use curl --cacert $dir/ca.crt)"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$dir/ca.key.tmp" -out "$dir/ca.crt.tmp" -days 3650 \
        -subj "/O=Khalid Tracker/CN=Khalid Tracker private CA ($(hostname 2>/dev/null || echo local))" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    mv -f "$dir/ca.key.tmp" "$dir/ca.key"
    mv -f "$dir/ca.crt.tmp" "$dir/ca.crt"
    chmod 0644 "$dir/ca.crt"
    rm -f "$dir/server.crt"
fi

# One verification covers the chain, the name and the remaining validity (30 days ahead).
in30days=$(( $(date +%s) + 30 * 86400 ))
# shellcheck disable=SC2086 # $check: an option and its value
if [ -s "$dir/server.crt" ] && [ -s "$dir/server.key" ] &&
    openssl verify -CAfile "$dir/ca.crt" $check -attime "$in30days" "$dir/server.crt" >/dev/null 2>&1 &&
    [ "$(openssl x509 -in "$dir/server.crt" -noout -pubkey)" = "$(openssl pkey -in "$dir/server.key" -pubout 2>/dev/null)" ]; then
    exit 0
fi

say "making a certificate for $name (and localhost, 127.0.0.1, ::1) signed by $dir/ca.crt"
ext=$dir/server.ext.tmp
cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$name_san,DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
# 397 days: within what browsers accept for a server certificate, and renewed at a start
# in its last 30.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/server.key.tmp" \
    -subj "/CN=$name" 2>/dev/null |
    openssl x509 -req -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
        -days 397 -extfile "$ext" -out "$dir/server.crt.tmp" 2>/dev/null
# shellcheck disable=SC2086
openssl verify -CAfile "$dir/ca.crt" $check "$dir/server.crt.tmp" >/dev/null 2>&1 ||
    { say "$dir/ca.key does not sign for $dir/ca.crt: remove both to make a new CA"; exit 2; }
mv -f "$dir/server.key.tmp" "$dir/server.key"
mv -f "$dir/server.crt.tmp" "$dir/server.crt"
chmod 0644 "$dir/server.crt"
