#!/bin/sh
# Fill the @NAME@ placeholders of nginx.conf.in from the environment and print the result.
# Used by scripts/stack.sh (native) and nginx/entrypoint.sh (container), so both run one config.
# Usage: render-conf.sh TEMPLATE  (every NGINX_ variable below must be set; no defaults hide
# a mistake). TRUSTED_PROXIES, the operator's optional list of proxy addresses or networks
# whose X-Forwarded-For is believed, becomes set_real_ip_from lines.
set -eu
template=${1:?usage: render-conf.sh TEMPLATE}
real_ip=""
for net in $(printf '%s' "${TRUSTED_PROXIES:-}" | tr ',' ' '); do
    case $net in *[!0-9a-fA-F.:/]*|'') echo "render-conf.sh: TRUSTED_PROXIES: '$net' is not an address or network" >&2; exit 2 ;; esac
    real_ip="${real_ip}set_real_ip_from $net; "
done
[ -n "$real_ip" ] && real_ip="${real_ip}real_ip_header X-Forwarded-For; real_ip_recursive on;"
for v in NGINX_USER_LINE NGINX_WORKER_PROCESSES NGINX_PID_FILE NGINX_MIME_TYPES NGINX_ACCESS_LOG \
         NGINX_TEMP_DIR NGINX_UPSTREAM_CONF NGINX_LISTEN NGINX_STATIC_ROOT; do
    eval "val=\${$v?render-conf.sh: $v is not set}"
    case $val in *'|'*) echo "render-conf.sh: $v must not contain '|'" >&2; exit 2 ;; esac
done
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
    "$template"
