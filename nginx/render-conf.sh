#!/bin/sh
# Fill the @NAME@ placeholders of nginx.conf.in from the environment and print the result.
# Used by scripts/stack.sh (native) and nginx/entrypoint.sh (container), so both run one config.
# Usage: render-conf.sh TEMPLATE  (every NGINX_ variable below must be set; no defaults hide
# a mistake). These operator settings are optional:
#   TRUSTED_PROXIES  proxy addresses or networks whose X-Forwarded-For is believed:
#                    set_real_ip_from lines
#   STATS_PASSWORD or STATS_PASSWORD_FILE  puts /stats and /api/ behind HTTP basic auth
#                    (user "stats"); the password's SHA-512 crypt hash is written to
#                    NGINX_STATS_HTPASSWD, which nginx reads
#   NGINX_STATUS_ALLOW  networks besides 127.0.0.1 that may read /nginx-status (compose's
#                    monitoring network, where Prometheus's nginx exporter runs)
#   RATE_LIMIT, RATE_BURST  requests a second per client address on /, /count, /about and
#                    /stats (default 10; 0: no limit) and how many more at once (default 20)
#   RATE_LIMIT_EXEMPT  addresses or networks never limited (default none)
#   NGINX_MODULES    dynamic modules to load (paths of .so files, space-separated; the
#                    container's lua module, for its balancer)
# and HTTPS, off unless one of these is set:
#   TLS_CERT, TLS_KEY  the certificate (leaf first, then intermediates) and its unencrypted
#                    key, PEM files; TLS_CHAIN (optional) the issuer's chain, which turns on
#                    OCSP stapling
#   TLS=self-signed  a private CA and a certificate for SERVER_NAME (default localhost), made
#                    in NGINX_TLS_DIR on first use by tls-selfsigned.sh and reused after
#   HSTS_MAX_AGE     Strict-Transport-Security max-age in seconds (default 31536000)
# With HTTPS on, NGINX_HTTPS_LISTEN (nginx's [address:]port) and NGINX_HTTPS_PUBLIC_PORT (the
# port clients reach, for the redirect) must be set too. The files are checked here, so a
# wrong one stops the start with its name, before nginx serves anything.
set -eu
template=${1:?usage: render-conf.sh TEMPLATE}
for v in NGINX_USER_LINE NGINX_WORKER_PROCESSES NGINX_PID_FILE NGINX_MIME_TYPES NGINX_ACCESS_LOG \
         NGINX_TEMP_DIR NGINX_UPSTREAM_CONF NGINX_LISTEN NGINX_STATIC_ROOT NGINX_STATS_HTPASSWD; do
    eval "val=\${$v?render-conf.sh: $v is not set}"
    case $val in *'|'*) echo "render-conf.sh: $v must not contain '|'" >&2; exit 2 ;; esac
done
real_ip=""
for net in $(printf '%s' "${TRUSTED_PROXIES:-}" | tr ',' ' '); do
    case $net in *[!0-9a-fA-F.:/]*|'') echo "render-conf.sh: TRUSTED_PROXIES: '$net' is not an address or network" >&2; exit 2 ;; esac
    real_ip="${real_ip}set_real_ip_from $net; "
done
[ -n "$real_ip" ] && real_ip="${real_ip}real_ip_header X-Forwarded-For; real_ip_recursive on;"
load_modules=""
for mod in ${NGINX_MODULES:-}; do
    case $mod in /*.so) ;; *) echo "render-conf.sh: NGINX_MODULES: '$mod' is not the path of a .so file" >&2; exit 2 ;; esac
    case $mod in *[!A-Za-z0-9_./+-]*) echo "render-conf.sh: NGINX_MODULES: '$mod': a path of letters, digits and _./+- only" >&2; exit 2 ;; esac
    load_modules="${load_modules}load_module $mod; "
done
status_allow=""
for net in $(printf '%s' "${NGINX_STATUS_ALLOW:-}" | tr ',' ' '); do
    case $net in *[!0-9a-fA-F.:/]*|'') echo "render-conf.sh: NGINX_STATUS_ALLOW: '$net' is not an address or network" >&2; exit 2 ;; esac
    status_allow="${status_allow}allow $net; "
done

stats_auth=""
if [ -n "${STATS_PASSWORD:-}" ] && [ -n "${STATS_PASSWORD_FILE:-}" ]; then
    echo "render-conf.sh: set STATS_PASSWORD or STATS_PASSWORD_FILE, not both" >&2; exit 2
fi
if [ -n "${STATS_PASSWORD_FILE:-}" ]; then
    [ -r "$STATS_PASSWORD_FILE" ] || { echo "render-conf.sh: STATS_PASSWORD_FILE=$STATS_PASSWORD_FILE: cannot read it" >&2; exit 2; }
    STATS_PASSWORD=$(head -n 1 "$STATS_PASSWORD_FILE")
    [ -n "$STATS_PASSWORD" ] || { echo "render-conf.sh: STATS_PASSWORD_FILE=$STATS_PASSWORD_FILE: the file holds no password" >&2; exit 2; }
fi
if [ -n "${STATS_PASSWORD:-}" ]; then
    hash=$(printf '%s\n' "$STATS_PASSWORD" | openssl passwd -6 -stdin) ||
        { echo "render-conf.sh: openssl could not hash STATS_PASSWORD" >&2; exit 2; }
    (umask 077; printf 'stats:%s\n' "$hash" >"$NGINX_STATS_HTPASSWD")
    stats_auth="auth_basic \"statistics\"; auth_basic_user_file $NGINX_STATS_HTPASSWD;"
fi
# HTTPS: the lines of nginx.conf.in marked @IF_TLS@ (and @IF_OCSP@) are kept without the
# marker, or left out.
fail() { echo "render-conf.sh: $*" >&2; exit 2; }
# tls_file VAR: the file named by $VAR exists, is readable, and its path can stand in nginx.conf.
tls_file() {
    eval "f=\$$1"
    case $f in *[!A-Za-z0-9._/@:,+=~-]*|'') fail "$1=$f: a path of letters, digits and ._/@:,+=~- only (it goes into nginx.conf)" ;; esac
    [ -e "$f" ] || fail "$1=$f: no such file"
    [ -f "$f" ] && [ -r "$f" ] || fail "$1=$f: cannot read it as $(id -un)"
}
# The rate limit: the lines of nginx.conf.in marked @IF_RATE@, kept with RATE_LIMIT > 0.
rate_number() {  # rate_number NAME DEFAULT: $NAME as a plain decimal of at most 6 digits
    eval "v=\${$1:-$2}"
    case $v in *[!0-9]*|'') fail "$1=$v: expected a whole number" ;; esac
    v=$(printf '%s' "$v" | sed 's/^0*\(.\)/\1/')
    [ ${#v} -le 6 ] || fail "$1=$v: too large"
    echo "$v"
}
rate=$(rate_number RATE_LIMIT 10) || exit 2
rate_burst=$(rate_number RATE_BURST 20) || exit 2
rate_exempt=""
for net in $(printf '%s' "${RATE_LIMIT_EXEMPT:-}" | tr ',' ' '); do
    case $net in *[!0-9a-fA-F.:/]*|'') fail "RATE_LIMIT_EXEMPT: '$net' is not an address or network" ;; esac
    rate_exempt="${rate_exempt}$net 1; "
done
rate_lines() {
    if [ "$rate" = 0 ]; then
        sed -e '/^@IF_RATE@/d'
        return
    fi
    # nginx refuses burst=0: no burst is written as none.
    burst_param=""
    [ "$rate_burst" = 0 ] || burst_param=" burst=$rate_burst"
    sed -e 's|^@IF_RATE@||' -e "s|@RATE_LIMIT@|$rate|" -e "s|@RATE_BURST@|$burst_param|" \
        -e "s|@RATE_EXEMPT@|$rate_exempt|"
}

case ${TLS:-} in
    '') ;;
    self-signed)
        [ -z "${TLS_CERT:-}${TLS_KEY:-}${TLS_CHAIN:-}" ] || fail "set TLS=self-signed or TLS_CERT and TLS_KEY, not both"
        [ -n "${NGINX_TLS_DIR:-}" ] || fail "TLS=self-signed: NGINX_TLS_DIR is not set"
        "$(dirname "$0")/tls-selfsigned.sh" "$NGINX_TLS_DIR" "${SERVER_NAME:-localhost}" ||
            fail "TLS=self-signed: no certificate in $NGINX_TLS_DIR (see above)"
        TLS_CERT=$NGINX_TLS_DIR/server.crt TLS_KEY=$NGINX_TLS_DIR/server.key ;;
    *) fail "TLS=$TLS: expected self-signed, or nothing (TLS_CERT and TLS_KEY turn HTTPS on)" ;;
esac
tls_on=0 ocsp_on=0
if [ -n "${TLS_CERT:-}${TLS_KEY:-}${TLS_CHAIN:-}" ]; then
    tls_on=1
    [ -n "${TLS_CERT:-}" ] || fail "TLS_KEY or TLS_CHAIN is set but TLS_CERT is not"
    [ -n "${TLS_KEY:-}" ] || fail "TLS_CERT=$TLS_CERT is set but TLS_KEY is not"
    : "${NGINX_HTTPS_LISTEN:?render-conf.sh: HTTPS is on but NGINX_HTTPS_LISTEN is not set}"
    : "${NGINX_HTTPS_PUBLIC_PORT:?render-conf.sh: HTTPS is on but NGINX_HTTPS_PUBLIC_PORT is not set}"
    case $NGINX_HTTPS_LISTEN in *[!0-9a-fA-F.:\[\]]*) fail "NGINX_HTTPS_LISTEN=$NGINX_HTTPS_LISTEN: expected [address:]port" ;; esac
    case $NGINX_HTTPS_PUBLIC_PORT in *[!0-9]*) fail "NGINX_HTTPS_PUBLIC_PORT=$NGINX_HTTPS_PUBLIC_PORT: expected a port number" ;; esac
    HSTS_MAX_AGE=${HSTS_MAX_AGE:-31536000}
    case $HSTS_MAX_AGE in *[!0-9]*|'') fail "HSTS_MAX_AGE=$HSTS_MAX_AGE: expected a number of seconds" ;; esac
    tls_file TLS_CERT
    tls_file TLS_KEY
    openssl x509 -in "$TLS_CERT" -noout 2>/dev/null || fail "TLS_CERT=$TLS_CERT: not a PEM certificate"
    # -passin: an encrypted key fails here, where nginx would stop to ask for its passphrase.
    key_pub=$(openssl pkey -in "$TLS_KEY" -passin pass: -pubout 2>/dev/null) ||
        fail "TLS_KEY=$TLS_KEY: not an unencrypted PEM private key"
    [ "$(openssl x509 -in "$TLS_CERT" -noout -pubkey)" = "$key_pub" ] ||
        fail "TLS_KEY=$TLS_KEY is not the key of the certificate in TLS_CERT=$TLS_CERT"
    openssl x509 -in "$TLS_CERT" -noout -checkend 0 >/dev/null ||
        echo "render-conf.sh: warning: TLS_CERT=$TLS_CERT has expired: clients will refuse it" >&2
    https_port=":$NGINX_HTTPS_PUBLIC_PORT"
    [ "$NGINX_HTTPS_PUBLIC_PORT" = 443 ] && https_port=""
    resolver=
    if [ -n "${TLS_CHAIN:-}" ]; then
        ocsp_on=1
        tls_file TLS_CHAIN
        openssl x509 -in "$TLS_CHAIN" -noout 2>/dev/null || fail "TLS_CHAIN=$TLS_CHAIN: not a PEM certificate chain"
        # nginx asks the CA's OCSP responder itself: the resolver this system uses (Docker's
        # own in a container), IPv6 in brackets.
        resolver=$(awk '$1 == "nameserver" { print ($2 ~ /:/ ? "[" $2 "]" : $2); exit }' /etc/resolv.conf 2>/dev/null)
        [ -n "$resolver" ] || fail "TLS_CHAIN=$TLS_CHAIN: OCSP stapling needs a resolver, and /etc/resolv.conf names none"
    fi
fi
tls_lines() {
    if [ "$tls_on" = 0 ]; then
        sed -e '/^@IF_TLS@/d' -e '/^@IF_OCSP@/d'
        return
    fi
    ocsp='/^@IF_OCSP@/d'
    [ "$ocsp_on" = 1 ] && ocsp='s|^@IF_OCSP@||'
    sed -e 's|^@IF_TLS@||' -e "$ocsp" \
        -e "s|@HTTPS_LISTEN@|$NGINX_HTTPS_LISTEN|" \
        -e "s|@TLS_CERT@|$TLS_CERT|" \
        -e "s|@TLS_KEY@|$TLS_KEY|" \
        -e "s|@TLS_CHAIN@|${TLS_CHAIN:-}|" \
        -e "s|@RESOLVER@|$resolver|" \
        -e "s|@HSTS_MAX_AGE@|$HSTS_MAX_AGE|" \
        -e "s|@HTTPS_PORT_SUFFIX@|$https_port|"
}
[ -r "$template" ] || fail "$template: cannot read it"

tls_lines <"$template" | rate_lines |
    sed -e "s|@USER_LINE@|$NGINX_USER_LINE|" \
        -e "s|@LOAD_MODULES@|$load_modules|" \
        -e "s|@WORKER_PROCESSES@|$NGINX_WORKER_PROCESSES|" \
        -e "s|@PID_FILE@|$NGINX_PID_FILE|" \
        -e "s|@MIME_TYPES@|$NGINX_MIME_TYPES|" \
        -e "s|@ACCESS_LOG@|$NGINX_ACCESS_LOG|" \
        -e "s|@TEMP_DIR@|$NGINX_TEMP_DIR|g" \
        -e "s|@UPSTREAM_CONF@|$NGINX_UPSTREAM_CONF|" \
        -e "s|@LISTEN@|$NGINX_LISTEN|" \
        -e "s|@STATIC_ROOT@|$NGINX_STATIC_ROOT|g" \
        -e "s|@REAL_IP@|$real_ip|" \
        -e "s|@STATUS_ALLOW@|$status_allow|" \
        -e "s|@STATS_AUTH@|$stats_auth|"
