-- Argo CD health check for ageseal.io/SealedSecret. Install it in argocd-cm under
-- resource.customizations.health.ageseal.io_SealedSecret (see deploy/monitoring/README.md).
-- It reads the kstatus Ready condition the controller writes.
local hs = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      local generation = obj.metadata and obj.metadata.generation
      if generation ~= nil and condition.observedGeneration ~= nil and condition.observedGeneration < generation then
        hs.status = "Progressing"
        hs.message = "Waiting for ageseal-controller to see the latest change"
        return hs
      end
      if condition.status == "True" then
        hs.status = "Healthy"
      elseif condition.reason == "ApiError" then
        hs.status = "Progressing"
      else
        hs.status = "Degraded"
      end
      hs.message = (condition.reason or "") .. ": " .. (condition.message or "")
      return hs
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for ageseal-controller"
return hs
