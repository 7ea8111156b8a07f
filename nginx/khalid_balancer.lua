-- The workers of nginx's `upstream khalid_workers` in the container, changed without
-- reloading nginx. A reload starts new nginx processes and the old ones close every idle
-- client keep-alive connection at once: a client that sent its next request on one just then
-- gets no answer (browsers and curl send it again, wrk and many HTTP libraries report an
-- error). So nginx/watch-upstream.sh writes the workers' addresses to a file, each nginx
-- process reads it every half second, and this balancer picks each request's worker from
-- it; the upstream's `keepalive` pool (the block after balancer_by_lua) still keeps
-- connections to the workers open between requests.
--
-- Round robin, skipping a worker that refused a connection in the last `fail_timeout`
-- seconds (what `max_fails=1 fail_timeout=2s` did for the static block), shared by nginx's
-- processes. A request nginx passes on (fastcgi_next_upstream) goes to a worker it has not
-- tried yet, so each is tried at most once, as with `fastcgi_next_upstream_tries 0`.
local balancer = require "ngx.balancer"

local M = {}

local peers = {}      -- this process's workers: {host = "10.0.0.5", port = 9000, id = "10.0.0.5:9000"}
local source = nil    -- the text of the file they were read from
local next_peer = 0

local function read_peers(path)
    local f = io.open(path, "r")
    if not f then
        return
    end
    local text = f:read("*a")
    f:close()
    if text == nil or text == source then
        return
    end
    local list = {}
    for host, port in text:gmatch("(%d+%.%d+%.%d+%.%d+):(%d+)") do
        list[#list + 1] = {host = host, port = tonumber(port), id = host .. ":" .. port}
    end
    peers, source = list, text
end

-- init_worker_by_lua: read the file now and every `interval` seconds.
function M.init_worker(path, interval)
    read_peers(path)
    local ok, err = ngx.timer.every(interval, function(premature)
        if not premature then
            read_peers(path)
        end
    end)
    if not ok then
        ngx.log(ngx.ERR, "khalid_balancer: no timer to read ", path, ": ", err)
    end
end

-- balancer_by_lua: the worker for this try of the request.
function M.balance(fail_timeout)
    local failed = ngx.shared.khalid_failed
    local ctx = ngx.ctx
    local n = #peers
    local tried = ctx.khalid_tried
    if tried then
        -- nginx passes the request on: the last try could not connect or was cut off.
        if balancer.get_last_failure() == "failed" then
            failed:set(ctx.khalid_last, true, fail_timeout)
        end
    else
        tried = {}
        ctx.khalid_tried = tried
        if n > 1 then
            balancer.set_more_tries(n - 1)
        end
    end
    local pick, fallback
    for _ = 1, n do
        next_peer = next_peer % n + 1
        local p = peers[next_peer]
        if not tried[p.id] then
            if not failed:get(p.id) then
                pick = p
                break
            end
            fallback = fallback or p
        end
    end
    -- Every worker left failed a moment ago: one of them all the same, as nginx does.
    pick = pick or fallback
    if not pick then
        return ngx.exit(502)
    end
    tried[pick.id] = true
    ctx.khalid_last = pick.id
    local ok, err = balancer.set_current_peer(pick.host, pick.port)
    if not ok then
        ngx.log(ngx.ERR, "khalid_balancer: worker ", pick.id, ": ", err)
        return ngx.exit(502)
    end
end

-- log_by_lua: a worker whose answer this request could not get is skipped like one that
-- refused, also when nginx did not pass the request on (a timeout, or a page that must not
-- be retried), so that other requests do not wait on it too. nginx itself answers 502 for
-- a connection that failed and 504 for one that timed out; the workers never do.
function M.log(fail_timeout)
    local last = ngx.ctx.khalid_last
    local status = last and ngx.var.upstream_status
    if status then
        local code = status:match("(%d+)%s*$")
        if code == "502" or code == "504" then
            ngx.shared.khalid_failed:set(last, true, fail_timeout)
        end
    end
end

return M
