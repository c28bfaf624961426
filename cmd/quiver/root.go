package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/quiver-mq/quiver/internal/buildinfo"
)

// newRootCmd builds the quiver command tree. Output that a command produces on
// success goes to out; errors and usage go to stderr unless the caller sets
// otherwise. It keeps no state outside the returned tree, so tests may build
// and run as many as they like.
func newRootCmd(out io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "quiver",
		Short: "Quiver is Apache RocketMQ 5.x rebuilt in Go",
		Long: "Quiver is Apache RocketMQ 5.x rebuilt in Go: name server, broker, proxy and\n" +
			"controller in one binary, speaking RocketMQ's remoting and gRPC protocols.",
		SilenceUsage: true, // a failing command prints its error, not the usage text
	}
	root.SetOut(out)
	root.AddCommand(newVersionCmd(), newStoreCmd(), newServeCmd(), newNamesrvCmd(), newBrokerCmd())
	root.AddCommand(newBenchCmd(), newAdminCmd(), newProxyCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go toolchain of this build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), buildinfo.Read())
			return err
		},
	}
}
