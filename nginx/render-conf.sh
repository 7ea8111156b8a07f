#!/bin/sh
# Fill the @NAME@ placeholders of nginx.conf.in from the environment and print the result.
# Used by scripts/stack.sh (native) and nginx/entrypoint.sh (container), so both run one config.
# Usage: render-conf.sh TEMPLATE  (every variable below must be set; no defaults hide a mistake)
set -eu
template=${1:?usage: render-conf.sh TEMPLATE}
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
    "$template"
