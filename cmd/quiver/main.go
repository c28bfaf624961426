// Command quiver is the Quiver message broker: Apache RocketMQ 5.x rebuilt in
// Go as one binary. Each role (name server, broker, proxy, controller) is a
// subcommand; see newRootCmd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout).ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1) // cobra has already printed the error to stderr
	}
}
