package notify

import "crypto/x509"

// TrustRoots makes s trust only roots: for tests with a server's own certificate.
func (s *SMTP) TrustRoots(roots *x509.CertPool) { s.tls.RootCAs = roots }
