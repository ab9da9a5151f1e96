-- Runs argocd-health.lua against sample objects: `lua deploy/monitoring/argocd-health-test.lua`
-- from the repository root; exits non-zero on the first wrong answer.
local function check(name, object, want)
  obj = object
  local hs = dofile("deploy/monitoring/argocd-health.lua")
  if hs.status ~= want then
    io.stderr:write(name .. ": expected " .. want .. ", got " .. tostring(hs.status) .. "\n")
    os.exit(1)
  end
  print("ok " .. name .. " -> " .. hs.status)
end
local function ready(status, reason, observed)
  return { metadata = { generation = 2 }, status = { conditions = {
    { type = "Ready", status = status, reason = reason, message = "m", observedGeneration = observed } } } }
end
check("no status yet", { metadata = { generation = 1 } }, "Progressing")
check("ready", ready("True", "Unsealed", 2), "Healthy")
check("stale generation", ready("True", "Unsealed", 1), "Progressing")
check("scope mismatch", ready("False", "ScopeMismatch", 2), "Degraded")
check("no matching key", ready("False", "NoMatchingKey", 2), "Degraded")
check("api error retries", ready("False", "ApiError", 2), "Progressing")
