-- Refresh token grants with rotation: every answer carries the successor of the token sent, and a
-- token sent twice revokes its whole family, so no request may be repeated. Each thread keeps a
-- queue of live refresh tokens (at least one per connection): request() takes the oldest, response()
-- appends the one the answer carries, so every family is refreshed in turn (none sits idle long
-- enough to fall out of an LRU store). A failed answer loses its token (and counts as non-2xx).
-- Env: POOL_FILE (one refresh token a line), THREADS (wrk -t, default 1), BODY_PREFIX
-- (default "grant_type=refresh_token&refresh_token="), AUTH_HEADER, CONTENT_TYPE.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local prefix = os.getenv("BODY_PREFIX") or "grant_type=refresh_token&refresh_token="
local headers = { ["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/x-www-form-urlencoded" }
local auth = os.getenv("AUTH_HEADER")
if auth and auth ~= "" then headers["Authorization"] = auth end

local serial = 0
function setup(thread)
  thread:set("id", serial)
  serial = serial + 1
  summary.setup(thread)
end

function init(_args)
  summary.init()
  pool, head, tail = {}, 1, 0
  local threads = tonumber(os.getenv("THREADS") or "1")
  local index = 0
  for line in io.lines(os.getenv("POOL_FILE")) do
    if line ~= "" and index % threads == id then
      tail = tail + 1
      pool[tail] = line
    end
    index = index + 1
  end
end

function request()
  local token = "pool-empty"  -- answered 400 invalid_grant: counted, never silently skipped
  if head <= tail then
    token = pool[head]
    pool[head] = nil
    head = head + 1
  end
  return wrk.format("POST", nil, headers, prefix .. token)
end

function response(status, _headers, body)
  summary.count(status)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then
    tail = tail + 1
    pool[tail] = token
  end
end

done = summary.done
