// Package cli: the `tilt lsp` command, which this build of Tilt does not have.
package cli

import (
	"errors"
	"io/fs"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/tilt-dev/starlark-lsp/pkg/document"
)

type BuiltinFSProvider func() fs.FS

type RootCmd struct {
	*cobra.Command
}

func NewRootCmd(name string, _ BuiltinFSProvider, _ ...document.ManagerOpt) *RootCmd {
	return &RootCmd{Command: &cobra.Command{
		Use:   name,
		Short: "Language server for Starlark (not in this build)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("the Tiltfile language server is not in this build of Tilt")
		},
	}}
}

func NewLogger() (*zap.Logger, func()) { return zap.NewNop(), func() {} }
