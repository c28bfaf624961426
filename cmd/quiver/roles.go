package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/quiver-mq/quiver/internal/broker"
	"github.com/quiver-mq/quiver/internal/config"
	"github.com/quiver-mq/quiver/internal/namesrv"
	"github.com/quiver-mq/quiver/internal/store"
	"github.com/quiver-mq/quiver/server"
)

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// waitForSignal blocks until SIGINT or SIGTERM (or ctx ends).
func waitForSignal(ctx context.Context) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}

func newServeCmd() *cobra.Command {
	var (
		data, nsAddr, brAddr string
		proxyAddr            string
		tlsCert, tlsKey      string
		syncFlush            bool
		timerPrecisionMs     int64
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a NameServer, a Broker and a gRPC Proxy in one process, with no configuration",
		Long: "serve runs a NameServer (default :9876), a Broker (default :10911) and a gRPC\n" +
			"Proxy for 5.x clients (default :8081) in one process, storing data in ./data.\n" +
			"Topics are created on first send. It stops " +
			"cleanly on SIGINT or SIGTERM: flushed, with the abort marker cleared.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr())
			start := time.Now()
			s, err := server.Start(server.Options{
				DataDir: data, NamesrvAddr: nsAddr, BrokerAddr: brAddr, SyncFlush: syncFlush, Logger: log,
				ProxyAddr: proxyAddr, TLSCertFile: tlsCert, TLSKeyFile: tlsKey,
				Broker: func(o *broker.Options) { o.TimerPrecisionMs = timerPrecisionMs },
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quiver: name server on %s, broker on %s, proxy on %s, data in %s (ready in %s)\n",
				s.NamesrvAddr(), s.BrokerAddr(), s.ProxyAddr(), data, time.Since(start).Round(time.Millisecond))
			waitForSignal(cmd.Context())
			fmt.Fprintln(cmd.OutOrStdout(), "quiver: stopping")
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&data, "data", "./data", "directory for the store")
	cmd.Flags().StringVar(&nsAddr, "namesrv-addr", ":9876", "name server listen address")
	cmd.Flags().StringVar(&brAddr, "broker-addr", ":10911", "broker listen address")
	cmd.Flags().StringVar(&proxyAddr, "proxy-addr", ":8081", "gRPC proxy listen address for 5.x clients (\"\" for none)")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "proxy TLS certificate (PEM); self-signed when unset")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "proxy TLS private key (PEM)")
	cmd.Flags().BoolVar(&syncFlush, "sync-flush", false, "acknowledge sends only once on disk (flushDiskType=SYNC_FLUSH)")
	cmd.Flags().Int64Var(&timerPrecisionMs, "timer-precision-ms", 1000, "timer wheel slot length, 100 to 60000 (timerPrecisionMs)")
	return cmd
}

func newNamesrvCmd() *cobra.Command {
	var (
		port int
		conf string
	)
	cmd := &cobra.Command{
		Use:   "namesrv",
		Short: "Run a NameServer (like mqnamesrv)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr())
			nc := config.DefaultNamesrv()
			if conf != "" {
				f, err := os.Open(conf)
				if err != nil {
					return err
				}
				var warns []config.Warning
				nc, warns, err = config.ParseNamesrv(f, conf)
				f.Close()
				for _, w := range warns {
					log.Warn("config", "warning", w.String())
				}
				if err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("port") {
				nc.ListenPort = port
			}
			ns := namesrv.New(namesrv.Options{
				Addr:         net.JoinHostPort(nc.BindAddress, strconv.Itoa(nc.ListenPort)),
				ScanInterval: nc.ScanNotActiveBrokerInterval,
				Logger:       log,
			})
			addr, err := ns.Start()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quiver: name server on %s\n", addr)
			waitForSignal(cmd.Context())
			return ns.Close()
		},
	}
	cmd.Flags().IntVarP(&port, "port", "p", 9876, "listen port (listenPort)")
	cmd.Flags().StringVarP(&conf, "config", "c", "", "name server config file (Java properties)")
	return cmd
}

func newBrokerCmd() *cobra.Command {
	var (
		conf    string
		namesrv string
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a Broker configured by a RocketMQ broker.conf (like mqbroker -c)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr())
			bc := config.DefaultBroker()
			if conf != "" {
				f, err := os.Open(conf)
				if err != nil {
					return err
				}
				var warns []config.Warning
				bc, warns, err = config.ParseBroker(f, conf)
				f.Close()
				for _, w := range warns {
					log.Warn("config", "warning", w.String())
				}
				if err != nil {
					return err
				}
			}
			if namesrv != "" {
				bc.NamesrvAddrs = splitAddrs(namesrv)
			}
			if err := bc.Validate(); err != nil {
				return err
			}
			b, err := broker.New(brokerOptions(bc, log))
			if err != nil {
				return err
			}
			addr, err := b.Start()
			if err != nil {
				b.Close()
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quiver: broker %s on %s (advertised %s), store %s\n", bc.BrokerName, addr, b.Addr(), bc.StorePathRootDir)
			waitForSignal(cmd.Context())
			return b.Close()
		},
	}
	cmd.Flags().StringVarP(&conf, "config", "c", "", "broker.conf (Java properties with RocketMQ's keys)")
	cmd.Flags().StringVarP(&namesrv, "namesrv", "n", "", "name server addresses, \"h1:9876;h2:9876\" (namesrvAddr)")
	return cmd
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range splitAny(s, ";,") {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

func splitAny(s, seps string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(seps); j++ {
			if s[i] == seps[j] {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// brokerOptions maps broker.conf settings onto the broker's options.
func brokerOptions(bc config.Broker, log *slog.Logger) broker.Options {
	o := broker.DefaultOptions(bc.StorePathRootDir)
	o.ClusterName, o.BrokerName, o.BrokerID = bc.BrokerClusterName, bc.BrokerName, bc.BrokerID
	o.NamesrvAddrs = bc.NamesrvAddrs
	o.ListenAddr = net.JoinHostPort(bc.BindAddress, strconv.Itoa(bc.ListenPort))
	o.AdvertiseIP = bc.BrokerIP1
	o.AutoCreateTopic = bc.AutoCreateTopicEnable
	o.AutoCreateSubscriptionGroup = bc.AutoCreateSubscriptionGroup
	o.DefaultTopicQueueNums = bc.DefaultTopicQueueNums
	o.LongPolling, o.ShortPollingTime = bc.LongPollingEnable, bc.ShortPollingTime
	o.RegisterPeriod = bc.RegisterNameServerPeriod
	o.NotifyConsumerIDsChanged = bc.NotifyConsumerIdsChangedEnable
	o.Permission = bc.BrokerPermission
	o.DelayLevels = bc.MessageDelayLevel
	o.FlushDelayOffsetInterval = bc.FlushDelayOffsetInterval
	o.EnablePropertyFilter = bc.EnablePropertyFilter
	o.TransactionTimeout = bc.TransactionTimeout
	o.TransactionCheckMax = bc.TransactionCheckMax
	o.TransactionCheckInterval = bc.TransactionCheckInterval
	o.TimerWheelDisabled = !bc.TimerWheelEnable
	o.TimerPrecisionMs = bc.TimerPrecision.Milliseconds()
	o.TimerMaxDelay = bc.TimerMaxDelay
	if bc.TimerRollWindowSlot > 0 {
		o.TimerRollWindow = time.Duration(bc.TimerRollWindowSlot) * bc.TimerPrecision
	}
	o.TimerFlushInterval = bc.TimerFlushInterval
	o.RecallMessageDisabled = !bc.RecallMessageEnable
	o.Logger = log
	so := &o.Store
	so.CommitLogDir = bc.CommitLogDir()
	so.SegmentSize = bc.MappedFileSizeCommitLog
	so.ConsumeQueueUnits = bc.MappedFileSizeConsumeQueue / 20
	so.IndexSlots, so.IndexEntries = bc.MaxHashSlotNum, bc.MaxIndexNum
	if bc.FlushDiskType == config.SyncFlush {
		so.FlushDiskType = store.SyncFlush
	}
	so.FlushInterval = bc.FlushIntervalCommitLog
	so.FlushConsumeQueueInterval = bc.FlushIntervalConsumeQueue
	so.SyncFlushTimeout = bc.SyncFlushTimeout
	so.MaxMessageSize = bc.MaxMessageSize
	so.FileReservedTime = bc.FileReservedTime
	so.DeleteWhen = bc.DeleteWhen
	so.DiskMaxUsedSpaceRatio = float64(bc.DiskMaxUsedSpaceRatio) / 100
	so.DiskCleanRatio = min(so.DiskCleanRatio, so.DiskMaxUsedSpaceRatio)
	so.CleanForcibly = bc.CleanFileForciblyEnable
	return o
}
