#!/bin/bash
# Keeps the workers of nginx's `upstream khalid_workers` equal to the running replicas of the
# worker service, so `docker compose up --scale fcgi-app=N` and `docker service scale` take
# effect without restarting nginx.
#
# nginx 1.22 resolves a host name in an upstream block once, at start or reload (the
# `resolve` server parameter exists only from 1.27.3). So every UPSTREAM_INTERVAL seconds
# this script asks Docker's DNS for every address of the service (all replicas), tries a TCP
# connection to each on UPSTREAM_PORT, and when the set of usable addresses changes it
# rewrites NGINX_UPSTREAM_PEERS ("ADDRESS:PORT" a line), which nginx's balancer
# (khalid_balancer.lua, see upstream.sh -b) re-reads every half second. nginx is never
# reloaded for it: a reload closes every idle client keep-alive connection, and a client
# that sent a request on one just then (wrk, many HTTP libraries) gets an error.
#
# The name asked: on Swarm `tasks.<service>`, every task's own address on every node (the
# plain name is one virtual IP there, which would hide the tasks from nginx's balancing and
# keep-alive); under compose that name does not exist and the plain name answers every
# container. Both are tried in that order until `tasks.` has answered once; from then on
# only it, so that a lookup failing for a moment on Swarm never puts the virtual IP in.
#
# Usable: the address accepts a connection, or it is already in the set and merely slow to
# answer (a full backlog under load). A new address must accept first: Docker's DNS lists a
# container before its network is wired, when connections to it go unanswered. A refused
# address is dropped: a worker that got SIGTERM closes its listening socket at once and its
# container lingers a few seconds (fcgi-app/entrypoint.sh), so it is dropped here before its
# address disappears, while nginx retries its refused connections on another worker.
# With no usable address the last good set is kept; before the first one the file is empty
# and nginx answers 502 until a worker appears.
#
# Usage: watch-upstream.sh          poll forever
#        watch-upstream.sh --once   write the file once (waiting up to UPSTREAM_START_WAIT
#                                   seconds for a worker) and exit
# Set UPSTREAM_DEBUG=1 to log every poll.
set -uo pipefail

SERVICE=${UPSTREAM_SERVICE:-fcgi-app}
PORT=${UPSTREAM_PORT:-9000}
INTERVAL=${UPSTREAM_INTERVAL:-1}
START_WAIT=${UPSTREAM_START_WAIT:-15}
PEERS=${NGINX_UPSTREAM_PEERS:?NGINX_UPSTREAM_PEERS is not set}
STATE=$PEERS.set

say() { echo "watch-upstream: $(date -u +%H:%M:%S.%3N) $*" >&2; }

# Resolves the first HOST that has an address and tries a non-blocking connection to every
# IPv4 address at once. Prints "NAME HOST" first, then "ADDRESS STATUS" per address, sorted:
# 0 = connected, 1 = refused or unreachable, 124 = no answer within TIMEOUT seconds. One
# process per poll: cheap even on a loaded machine. (perl-base is part of every Debian system.)
read -r -d '' PROBE <<'PERL'
use strict; use warnings;
use Socket qw(:addrinfo :DEFAULT); use Fcntl; use Errno qw(EINPROGRESS);
my ($port, $timeout, @hosts) = @ARGV;
my ($err, @res);
for my $host (@hosts) {
    ($err, @res) = getaddrinfo($host, $port, {family => AF_INET, socktype => SOCK_STREAM});
    next if $err || !@res;
    print "NAME $host\n";
    last;
}
exit 0 if $err || !@res;
my (%seen, %status, %pending);
for my $r (@res) {
    my $ip = inet_ntoa((unpack_sockaddr_in($r->{addr}))[1]);
    next if $seen{$ip}++;
    socket(my $s, PF_INET, SOCK_STREAM, 0) or do { $status{$ip} = 1; next };
    fcntl($s, F_SETFL, fcntl($s, F_GETFL, 0) | O_NONBLOCK);
    if (connect($s, $r->{addr})) { $status{$ip} = 0 }
    elsif ($! == EINPROGRESS) { $pending{fileno $s} = [$s, $ip] }
    else { $status{$ip} = 1 }
}
my $left = $timeout;
while (%pending && $left > 0) {
    my $win = '';
    vec($win, $_, 1) = 1 for keys %pending;
    my $wout = $win;
    my ($n, $t) = select(undef, $wout, undef, $left);
    last if $n <= 0;
    $left = defined $t ? $t : 0;
    for my $fd (keys %pending) {
        next unless vec($wout, $fd, 1);
        my ($s, $ip) = @{delete $pending{$fd}};
        $status{$ip} = unpack('i', getsockopt($s, SOL_SOCKET, SO_ERROR)) ? 1 : 0;
    }
}
$status{$_->[1]} = 124 for values %pending;
print "$_ $status{$_}\n" for sort { pack('C4', split /\./, $a) cmp pack('C4', split /\./, $b) } keys %status;
PERL

NAMES=("tasks.$SERVICE" "$SERVICE")
# Sets NAME (the name that answered), RESOLVED (every address, space-separated) and LIVE
# (the usable ones, one a line).
poll() {
    local ip rc
    PROBES=$(perl -e "$PROBE" "$PORT" 1 "${NAMES[@]}")
    NAME='' RESOLVED='' LIVE=''
    while read -r ip rc; do
        [ -n "$ip" ] || continue
        if [ "$ip" = NAME ]; then
            NAME=$rc
            [ "$NAME" = "tasks.$SERVICE" ] && NAMES=("$NAME")
            continue
        fi
        RESOLVED+="${RESOLVED:+ }$ip"
        if [ "$rc" = 0 ] || { [ "$rc" = 124 ] && [[ $'\n'$current$'\n' == *$'\n'$ip$'\n'* ]]; }; then
            LIVE+="${LIVE:+$'\n'}$ip"
        fi
    done <<<"$PROBES"
}

write_peers() {  # $1: newline-separated addresses, or empty for none yet
    local tmp=$PEERS.tmp ip
    {
        if [ -n "$1" ]; then
            while IFS= read -r ip; do
                echo "$ip:$PORT"
            done <<<"$1"
        fi
    } >"$tmp" || { say "cannot write $PEERS"; return 1; }
    # Renamed into place: nginx never reads half a list.
    mv -f "$tmp" "$PEERS"
    printf '%s' "$1" >"$STATE"
}

oneline() { echo ${1//$'\n'/ }; }

current=
if [ "${1:-}" = --once ]; then
    for ((i = 0; i < START_WAIT * 2; i++)); do
        poll
        [ -n "$LIVE" ] && break
        sleep 0.5
    done
    write_peers "$LIVE" || exit 2
    if [ -n "$LIVE" ]; then
        say "upstream $SERVICE: $(oneline "$LIVE")"
    else
        say "no address for $SERVICE yet; nginx answers 502 until a worker appears"
    fi
    exit 0
fi

current=$(cat "$STATE" 2>/dev/null || true)
while :; do
    sleep "$INTERVAL"
    poll
    [ "${UPSTREAM_DEBUG:-0}" = 1 ] && say "poll: $(oneline "$PROBES")"
    [ -n "$LIVE" ] || continue          # none usable: keep the last good set
    [ "$LIVE" = "$current" ] && continue
    prev=$current
    write_peers "$LIVE" || exit 2
    current=$LIVE
    say "upstream $SERVICE: $(oneline "$LIVE") (was: $(oneline "$prev"); $NAME: $RESOLVED); nginx reads it within 0.5 s"
done
