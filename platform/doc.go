// Package platform holds what the instance and the control plane share: opening and
// migrating their databases, the clock, HTTP plumbing (problem+json, strict JSON bodies,
// request ids), sealed secrets and the kits their tests use. It imports nothing of
// instance, controlplane or provisioning.
package platform
