package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quiver-mq/quiver/internal/proxy"
)

// newProxyCmd is `quiver proxy`: the gRPC Proxy alone, in cluster mode.
func newProxyCmd() *cobra.Command {
	var (
		namesrv, listen string
		tlsCert, tlsKey string
	)
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run a gRPC Proxy for RocketMQ 5.x clients in front of the brokers of a name server",
		Long: "proxy serves apache.rocketmq.v2.MessagingService (TLS and plaintext on one port)\n" +
			"and talks Remoting to the brokers it finds through the name server. It keeps no\n" +
			"message state: several proxies may serve the same brokers.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr())
			var ns []string
			for _, a := range strings.Split(namesrv, ";") {
				if a = strings.TrimSpace(a); a != "" {
					ns = append(ns, a)
				}
			}
			p, err := proxy.New(proxy.Options{
				Addr: listen, NamesrvAddrs: ns, TLSCertFile: tlsCert, TLSKeyFile: tlsKey, Logger: log,
			})
			if err != nil {
				return err
			}
			addr, err := p.Start()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quiver: proxy on %s, name server %s\n", addr, namesrv)
			waitForSignal(cmd.Context())
			fmt.Fprintln(cmd.OutOrStdout(), "quiver: stopping")
			return p.Close()
		},
	}
	cmd.Flags().StringVarP(&namesrv, "namesrv", "n", "127.0.0.1:9876", "name server address(es), ';'-separated")
	cmd.Flags().StringVar(&listen, "listen", ":8081", "gRPC listen address")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "TLS certificate (PEM); self-signed when unset")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "TLS private key (PEM)")
	return cmd
}
