package lifecycle

// Secrets are generated for each instance and kept sealed at rest.
type Secrets struct {
	SecretKey  string `json:"secret_key"`
	SetupToken string `json:"setup_token"`
}

// NewInstance is an instance made from a valid CreateRequest and not yet stored, with
// its secrets and the one-time link for its first admin.
type NewInstance struct {
	Instance Instance
	Secrets  Secrets
	SetupURL string
}

// Idempotent is a response given to a request with an Idempotency-Key, kept so that the
// same request gets it again. Whoever answers renders Body; it is sealed at rest, since
// it may carry the setup link.
type Idempotent struct {
	TokenID     int64
	Key         string
	RequestHash string
	Status      int
	Body        []byte
}
