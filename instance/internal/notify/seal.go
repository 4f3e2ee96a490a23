package notify

import "github.com/sproudstack/sproudchat/platform/sealbox"

// Sealer encrypts what must not be stored in clear (target URLs, keys, secrets): it is
// platform's sealbox, under a key derived from the instance's secret key for this one
// use, each value bound to TargetPlace.
type Sealer = sealbox.Box

// NewSealer returns the Sealer of the instance's secret key (at least 32 bytes).
func NewSealer(secretKey []byte) (*Sealer, error) { return sealbox.New(secretKey) }

// TargetPlace is where a target's sealed config is stored. A target's id is assigned on
// insert, after sealing, so the value is bound to its table and field only.
var TargetPlace = sealbox.Place{Table: "notify_targets", Field: "config_sealed"}
