// Package document: the options Tilt passes to the Starlark language server's document
// manager. The language server is not in this build, so they are accepted and unused.
package document

import (
	"os"

	"go.lsp.dev/uri"
)

type Manager struct{}

type ManagerOpt func(manager *Manager)

type ReadDocumentFunc func(u uri.URI) ([]byte, error)

type ResolveURIFunc func(u uri.URI) (string, error)

func WithReadDocumentFunc(ReadDocumentFunc) ManagerOpt { return func(*Manager) {} }

func WithResolveURIFunc(ResolveURIFunc) ManagerOpt { return func(*Manager) {} }

func ReadDocument(u uri.URI) ([]byte, error) { return os.ReadFile(u.Filename()) }

func ResolveURI(u uri.URI) (string, error) { return u.Filename(), nil }
