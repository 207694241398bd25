-- status.lua: wrk script for bench/api.sh: GET /api/v1/jobs/{id} with a
-- random id among those in $IDS_FILE and the key in $TOKEN.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)

request = function()
  return wrk.format("GET", "/api/v1/jobs/" .. ids[math.random(#ids)], headers)
end
