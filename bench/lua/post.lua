-- One fixed request with any headers (SigV4: Authorization, X-Amz-Date, X-Amz-Security-Token...).
-- Env: METHOD, BODY, CONTENT_TYPE, AUTH_HEADER (optional), HEADERS ("Name: value" lines, optional).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

wrk.method = os.getenv("METHOD") or "POST"
wrk.body = os.getenv("BODY") or ""
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/x-www-form-urlencoded"
local auth = os.getenv("AUTH_HEADER")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
for name, value in (os.getenv("HEADERS") or ""):gmatch("([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end

setup = summary.setup
init = summary.init
done = summary.done
function response(status, _headers, _body) summary.count(status) end
