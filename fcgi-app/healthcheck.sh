#!/bin/sh
# Liveness at the FastCGI level, independent of Redis: one HEAD / straight to this worker
# through cgi-fcgi; healthy when the worker answers with status 200. HEAD, so that the
# probe never counts as a page view.
out=$(REQUEST_METHOD=HEAD DOCUMENT_URI=/ REQUEST_URI=/ QUERY_STRING='' SERVER_PROTOCOL=HTTP/1.1 \
      timeout 3 cgi-fcgi -bind -connect 127.0.0.1:9000 2>/dev/null) || true
printf '%s\n' "$out" | head -n 20 | grep -q '^Status: 200'
