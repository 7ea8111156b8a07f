#!/bin/sh
# Fill the @NAME@ placeholders of nginx.conf.in from the environment and print the result.
# Used by scripts/stack.sh (native) and nginx/entrypoint.sh (container), so both run one config.
# Usage: render-conf.sh TEMPLATE  (every NGINX_ variable below must be set; no defaults hide
# a mistake). Two operator settings are optional:
#   TRUSTED_PROXIES  proxy addresses or networks whose X-Forwarded-For is believed:
#                    set_real_ip_from lines
#   STATS_PASSWORD or STATS_PASSWORD_FILE  puts /stats and /api/ behind HTTP basic auth
#                    (user "stats"); the password's SHA-512 crypt hash is written to
#                    NGINX_STATS_HTPASSWD, which nginx reads
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
sed -e "s|@USER_LINE@|$NGINX_USER_LINE|" \
    -e "s|@WORKER_PROCESSES@|$NGINX_WORKER_PROCESSES|" \
    -e "s|@PID_FILE@|$NGINX_PID_FILE|" \
    -e "s|@MIME_TYPES@|$NGINX_MIME_TYPES|" \
    -e "s|@ACCESS_LOG@|$NGINX_ACCESS_LOG|" \
    -e "s|@TEMP_DIR@|$NGINX_TEMP_DIR|g" \
    -e "s|@UPSTREAM_CONF@|$NGINX_UPSTREAM_CONF|" \
    -e "s|@LISTEN@|$NGINX_LISTEN|" \
    -e "s|@STATIC_ROOT@|$NGINX_STATIC_ROOT|g" \
    -e "s|@REAL_IP@|$real_ip|" \
    -e "s|@STATS_AUTH@|$stats_auth|" \
    "$template"
