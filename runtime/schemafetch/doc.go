// Package schemafetch looks up a topic's schema by version over the Pulsar
// binary protocol, caching each (topic, version) once fetched.
//
// pulsar-client-go has this lookup (CommandGetSchema) but does not export
// it, and a function instance is often started without the admin REST URL
// (the worker passes it only when exposeAdminClientEnabled is set), so the
// fetcher keeps its own small connection to the broker service URL: it
// sends CommandConnect, waits for CommandConnected, then multiplexes
// CommandGetSchema requests by request id on that one connection. Any
// broker of the cluster answers GetSchema, so no topic lookup is needed.
//
// Authentication: the auth.Provider's Name() and GetData() go into
// CommandConnect; an AuthChallenge (sent by brokers to refresh expiring
// credentials, during or after the handshake) is answered with a fresh
// GetData(). Multi-round mechanisms that must compute a reply from the
// challenge bytes (SASL) cannot be served through the auth.Provider
// interface and fail at the handshake. A provider's TLS client certificate
// (the "tls" method) is presented on pulsar+ssl:// connections.
//
// Schema versions are immutable, so cached entries never expire; the cache
// holds one entry per (base topic, version) seen, which is bounded by the
// schemas of the instance's input topics.
package schemafetch
