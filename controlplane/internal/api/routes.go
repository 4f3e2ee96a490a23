package api

import (
	"net/http"

	"github.com/sproudstack/sproudchat/controlplane/client"
)

// routeTable is every route of the API with the scope it needs.
func (s *Server) routeTable() []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", Scope: Public, Summary: "Liveness of the control plane and its database", Status: 200, Handler: s.healthz},
		{Method: "GET", Path: "/metrics", Scope: Public, Summary: "Prometheus metrics", Status: 200, Handler: s.metrics},
		{Method: "GET", Path: "/v1/openapi.json", Scope: Public, Summary: "This API's OpenAPI 3.1 document", Status: 200, Handler: s.openapi},

		{Method: "POST", Path: "/v1/instances", Scope: Write, Summary: "Create an instance (send Idempotency-Key)", Request: client.CreateInstance{}, Status: http.StatusAccepted, Reply: client.Instance{}, Handler: s.createInstance},
		{Method: "GET", Path: "/v1/instances", Scope: Read, Summary: "List instances (customer_id, state, limit, cursor)", Status: 200, Reply: client.InstanceList{}, Handler: s.listInstances},
		{Method: "GET", Path: "/v1/instances/:id", Scope: Read, Summary: "Get an instance", Status: 200, Reply: client.Instance{}, Handler: s.getInstance},
		{Method: "DELETE", Path: "/v1/instances/:id", Scope: Admin, Summary: "Destroy an instance now", Request: client.StateChange{}, Status: http.StatusAccepted, Reply: client.Instance{}, Handler: s.destroyInstance},
		{Method: "POST", Path: "/v1/instances/:id/suspend", Scope: Write, Summary: "Suspend: read-only, purged after the plan's read-only days", Request: client.StateChange{}, Status: http.StatusAccepted, Reply: client.Instance{}, Handler: s.suspendInstance},
		{Method: "POST", Path: "/v1/instances/:id/resume", Scope: Write, Summary: "Resume a suspended instance", Request: client.StateChange{}, Status: http.StatusAccepted, Reply: client.Instance{}, Handler: s.resumeInstance},
		{Method: "POST", Path: "/v1/instances/:id/retry", Scope: Write, Summary: "Retry a failed instance", Status: http.StatusAccepted, Reply: client.Instance{}, Handler: s.retryInstance},
		{Method: "GET", Path: "/v1/instances/:id/events", Scope: Read, Summary: "An instance's history", Status: 200, Reply: client.EventList{}, Handler: s.instanceEvents},
		{Method: "GET", Path: "/v1/instances/:id/logs", Scope: Admin, Summary: "The tail of an instance's app log", Status: 200, Reply: client.Logs{}, Handler: s.instanceLogs},
		{Method: "POST", Path: "/v1/instances/:id/backups", Scope: Write, Summary: "Back an instance up now (runs in the background)", Status: http.StatusAccepted, Reply: client.Backup{}, Handler: s.createBackup},
		{Method: "GET", Path: "/v1/instances/:id/backups", Scope: Read, Summary: "An instance's backups, newest first", Status: 200, Reply: client.BackupList{}, Handler: s.listBackups},
		{Method: "DELETE", Path: "/v1/instances/:id/backups", Scope: Admin, Summary: "Erase every backup of an instance (a customer's erasure request)", Status: 200, Reply: client.Purged{}, Handler: s.purgeBackups},
		{Method: "POST", Path: "/v1/instances/:id/restore", Scope: Admin, Summary: "Replace an instance's data with one of its completed backups", Request: client.Restore{}, Status: http.StatusAccepted, Reply: client.Instance{}, Handler: s.restoreInstance},
		{Method: "GET", Path: "/v1/backups/drills", Scope: Read, Summary: "Recent restore drills (instance_id, limit)", Status: 200, Reply: client.DrillList{}, Handler: s.listDrills},
		{Method: "POST", Path: "/v1/backups/drills", Scope: Admin, Summary: "Start a restore drill of an instance's newest completed backup now (runs in the background)", Request: client.StartDrill{}, Status: http.StatusAccepted, Reply: client.Drill{}, Handler: s.startDrill},
		{Method: "GET", Path: "/v1/backups/stale", Scope: Read, Summary: "Instances without a successful backup for 36 hours", Status: 200, Reply: client.StaleList{}, Handler: s.listStale},
		{Method: "GET", Path: "/v1/plans", Scope: Read, Summary: "The plans", Status: 200, Reply: client.PlanList{}, Handler: s.listPlans},

		{Method: "GET", Path: "/v1/tokens", Scope: Admin, Summary: "List API tokens", Status: 200, Reply: client.TokenList{}, Handler: s.listTokens},
		{Method: "POST", Path: "/v1/tokens", Scope: Admin, Summary: "Create an API token (shown once)", Request: client.CreateToken{}, Status: http.StatusCreated, Reply: client.Token{}, Handler: s.createToken},
		{Method: "DELETE", Path: "/v1/tokens/:id", Scope: Admin, Summary: "Revoke an API token", Status: http.StatusNoContent, Handler: s.revokeToken},
		{Method: "GET", Path: "/v1/webhooks", Scope: Admin, Summary: "List billing webhooks", Status: 200, Reply: client.WebhookList{}, Handler: s.listWebhooks},
		{Method: "POST", Path: "/v1/webhooks", Scope: Admin, Summary: "Subscribe a URL to instance events (secret shown once)", Request: client.CreateWebhook{}, Status: http.StatusCreated, Reply: client.Webhook{}, Handler: s.createWebhook},
		{Method: "DELETE", Path: "/v1/webhooks/:id", Scope: Admin, Summary: "Remove a webhook", Status: http.StatusNoContent, Handler: s.deleteWebhook},
		{Method: "GET", Path: "/v1/webhooks/deliveries", Scope: Admin, Summary: "Recent webhook deliveries (webhook_id, limit)", Status: 200, Reply: client.DeliveryList{}, Handler: s.listDeliveries},
		{Method: "GET", Path: "/v1/gc", Scope: Admin, Summary: "Runtime objects whose instance is unknown or destroyed", Status: 200, Reply: client.OrphanList{}, Handler: s.listOrphans},
		{Method: "POST", Path: "/v1/gc", Scope: Admin, Summary: "Remove those runtime objects; their data only with volumes, a grace period after the first gc", Request: client.CollectOrphans{}, Status: 200, Reply: client.OrphanList{}, Handler: s.collectOrphans},
	}
}
