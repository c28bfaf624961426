package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/quiver-mq/quiver/internal/bench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive a broker over Remoting (or gRPC): produce, consume, e2e latency, standard workloads",
		Long: "bench is a load generator speaking RocketMQ Remoting with its own lean client, or\n" +
			"with --grpc the RocketMQ 5 gRPC API through a proxy (--proxy HOST:PORT).\n" +
			"Progress goes to stderr once a second; the summary to stdout, or with --json one\n" +
			"JSON object per workload on stdout (the workload's headline result last).",
	}
	cmd.AddCommand(newBenchRunCmd("produce"), newBenchRunCmd("consume"), newBenchRunCmd("e2e"), newBenchWorkloadCmd(), newBenchReportCmd())
	var profile string
	var profFile *os.File
	cmd.PersistentFlags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the load generator to this file")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		if profile == "" {
			return nil
		}
		f, err := os.Create(profile)
		if err != nil {
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		profFile = f
		return nil
	}
	cmd.PersistentPostRunE = func(*cobra.Command, []string) error {
		if profFile == nil {
			return nil
		}
		pprof.StopCPUProfile()
		return profFile.Close()
	}
	return cmd
}

func newBenchRunCmd(kind string) *cobra.Command {
	c := bench.DefaultConfig()
	var (
		asJSON, useGRPC bool
		proxy           string
	)
	short := map[string]string{
		"produce": "Send messages (closed loop, windowed or paced; Remoting or --grpc) and report acked msg/s and send→ack latency",
		"consume": "Drain a topic from its first message with PULL (--grpc: ReceiveMessage + AckMessage) and report msg/s",
		"e2e":     "Consume with long polling while producing (Remoting or --grpc); report publish→consume latency",
	}[kind]
	cmd := &cobra.Command{
		Use:   kind,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c.Name = kind
			c.Progress = cmd.ErrOrStderr()
			if err := c.Validate(); err != nil {
				return err
			}
			if useGRPC {
				if err := bench.CheckProxyAddr(proxy); err != nil {
					return err
				}
			}
			var tgt *bench.Target
			var err error
			if c.Topic == "" || kind != "consume" {
				if c.Topic == "" {
					c.Topic = bench.FreshTopic("bench-" + kind)
				}
				tgt, err = bench.Prepare(ctx, c.Namesrv, c.Topic, c.Queues)
			} else {
				tgt, err = routeOnly(ctx, c)
			}
			if err != nil {
				return err
			}
			var r bench.Result
			switch kind {
			case "produce":
				if useGRPC {
					r, err = bench.ProduceGRPC(ctx, c, proxy, tgt)
				} else {
					r, err = bench.Produce(ctx, c, tgt)
				}
			case "consume":
				if useGRPC {
					r, err = bench.ConsumeGRPC(ctx, c, proxy, tgt)
				} else {
					r, err = bench.Consume(ctx, c, tgt)
				}
			default:
				if useGRPC {
					r, err = bench.E2EGRPC(ctx, c, proxy, tgt)
				} else {
					r, err = bench.E2E(ctx, c, tgt)
				}
			}
			if perr := printResults(cmd, []bench.Result{r}, asJSON); err == nil {
				err = perr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Namesrv, "namesrv", "127.0.0.1:9876", "name server address (topics are created over Remoting, also with --grpc)")
	f.BoolVar(&useGRPC, "grpc", false, "speak gRPC to the proxy (plaintext): SendMessage per message; ReceiveMessage + AckMessage (per message with --commit-every 1, else per batch)")
	f.StringVar(&proxy, "proxy", "127.0.0.1:8081", "gRPC proxy address, with --grpc")
	f.StringVar(&c.Topic, "topic", "", "topic (default: a fresh one, created with --queues queues; consume needs an existing one)")
	f.StringVar(&c.Group, "group", "", "consumer group (default: derived from the topic)")
	f.IntVar(&c.Size, "size", c.Size, "message body bytes")
	f.IntVar(&c.Producers, "producers", c.Producers, "producers, one TCP connection each")
	f.IntVar(&c.Window, "window", c.Window, "in-flight sends per producer (1 = closed loop)")
	f.IntVar(&c.Count, "count", 0, "messages in total (0 = bounded by --duration only)")
	f.DurationVar(&c.Duration, "duration", c.Duration, "wall-clock bound")
	f.Float64Var(&c.Rate, "rate", 0, "msg/s over all producers on an absolute schedule (0 = unpaced)")
	f.DurationVar(&c.Warmup, "warmup", 0, "e2e: leading period left out of the percentiles")
	f.IntVar(&c.Queues, "queues", c.Queues, "queues of the created topic")
	f.IntVar(&c.Batch, "batch", c.Batch, "pull batch")
	f.IntVar(&c.CommitEvery, "commit-every", 0, "commit a queue's offset every N messages (0 = after every batch, 1 = ack each message)")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object on stdout")
	return cmd
}

func routeOnly(ctx context.Context, c bench.Config) (*bench.Target, error) {
	qs, err := bench.RouteOf(ctx, c.Namesrv, c.Topic)
	if err != nil {
		return nil, err
	}
	return &bench.Target{Namesrv: c.Namesrv, Topic: c.Topic, Queues: qs}, nil
}

func newBenchWorkloadCmd() *cobra.Command {
	var (
		o      bench.WorkloadOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "workload NAME",
		Short: "Run a workload of WORKLOADS.md: W1 W2 W2p W3 W3b W4 W5 W6a W6b W7 W8",
		Long: "workload runs one standard workload against a fresh topic, with the counts and\n" +
			"bounds of WORKLOADS.md. W5 (and its parts W5:W1, W5:W2, W5:W2p, W5:W4) expects a\n" +
			"broker started with `quiver serve --sync-flush`.\n" +
			"W3 fills 1,000,000 messages (W2p method) and drains them twice with PULL batch 32:\n" +
			"W3 acknowledges each message (one-way UPDATE_CONSUMER_OFFSET), W3b commits every\n" +
			"100 messages; W3 then drains them a third time with POP (result W3:pop): POP_MESSAGE\n" +
			"batch 32 from all queues, at most 1,000 messages unacknowledged, one request/response\n" +
			"ACK_MESSAGE per message, checking that each message arrived once and all were acked.\n" +
			"Results of W3: W3:fill [W6a] W3b [W6a:after-drain] W3:pop W3 (the headline, PULL).\n" +
			"W6a (and W3, W6b, W8 with --broker-pid) report broker VmRSS, RssAnon, RssFile from /proc.\n" +
			"W6b creates 10,000 topics of 4 queues and sends 1,000,000 messages round-robin over them.\n" +
			"W7 runs W1 and W2p over Remoting and through the gRPC proxy (--proxy; one\n" +
			"SendMessage per message), interleaved: W1 Remoting, W1 gRPC, W2p Remoting, W2p gRPC,\n" +
			"--reps times, each on a fresh topic; its headline \"W7\" has the figures of the gRPC\n" +
			"W2p run (\"of\") and the ratios gRPC / Remoting of the medians (grpc_over_remoting).\n" +
			"W8 sends 1,000,000 timer messages (TIMER_DELIVER_MS) due over the next 60 s and\n" +
			"measures how late they arrive.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			o.Out = cmd.ErrOrStderr()
			rs, err := bench.Workload(ctx, args[0], o)
			if len(rs) > 0 {
				if perr := printResults(cmd, rs, asJSON); err == nil {
					err = perr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Namesrv, "namesrv", "127.0.0.1:9876", "name server address")
	f.StringVar(&o.Proxy, "proxy", "127.0.0.1:8081", "gRPC proxy address (W7)")
	f.IntVar(&o.Reps, "reps", 1, "repetitions of W7's four interleaved variants")
	f.IntVar(&o.Count, "count", 0, "override the workload's message count (and W3's backlog)")
	f.DurationVar(&o.Duration, "duration", 0, "override the workload's wall-clock bound")
	f.IntVar(&o.BrokerPID, "broker-pid", 0, "broker process id, for RSS from /proc (W3, W6a, W6b, W8)")
	f.IntVar(&o.Topics, "topics", 0, "override W6b's number of topics (10,000)")
	f.DurationVar(&o.Spread, "spread", 0, "override W8's spread of delivery times (60s)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per result on stdout, the workload's last")
	return cmd
}

func printResults(cmd *cobra.Command, rs []bench.Result, asJSON bool) error {
	var summary io.Writer = cmd.OutOrStdout()
	if asJSON {
		summary = cmd.ErrOrStderr()
	}
	for _, r := range rs {
		fmt.Fprintln(summary, r.Summary())
	}
	if !asJSON {
		return nil
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func newBenchReportCmd() *cobra.Command {
	var qfiles, jfiles []string
	var mdPath, jsonlPath string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Compare Quiver's --json results with jsbench's RESULT lines: medians, ranges, ratios",
		Long: "report reads Quiver's JSON lines (quiver bench workload --json) and NATS JetStream's\n" +
			"RESULT lines (shared/perf/tools/cmd/jsbench), and prints per workload and metric the\n" +
			"median (min–max) of each system over its repetitions and the ratio Quiver / JetStream\n" +
			"of the medians, as a markdown table; --jsonl also writes every run and row as JSON lines.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var runs []bench.Run
			for _, files := range []struct {
				names []string
				parse func(io.Reader) ([]bench.Run, error)
			}{{qfiles, bench.ParseQuiverRuns}, {jfiles, bench.ParseJetStreamRuns}} {
				for _, name := range files.names {
					rs, err := parseFile(name, files.parse)
					if err != nil {
						return err
					}
					runs = append(runs, rs...)
				}
			}
			cs := bench.Compare(bench.Rows(), runs)
			if err := bench.WriteMarkdown(cmd.OutOrStdout(), cs); err != nil {
				return err
			}
			if mdPath != "" {
				if err := writeFile(mdPath, func(w io.Writer) error { return bench.WriteMarkdown(w, cs) }); err != nil {
					return err
				}
			}
			if jsonlPath != "" {
				return writeFile(jsonlPath, func(w io.Writer) error { return bench.WriteJSONLines(w, runs, cs) })
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&qfiles, "quiver", nil, "file of Quiver JSON lines (repeatable)")
	f.StringSliceVar(&jfiles, "jetstream", nil, "file of jsbench RESULT lines (repeatable)")
	f.StringVar(&mdPath, "md", "", "also write the table to this file")
	f.StringVar(&jsonlPath, "jsonl", "", "write every run and every row as JSON lines to this file")
	return cmd
}

func parseFile(name string, parse func(io.Reader) ([]bench.Run, error)) ([]bench.Run, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("bench report: %w", err)
	}
	defer fh.Close()
	rs, err := parse(fh)
	if err != nil {
		return nil, fmt.Errorf("bench report: %s: %w", name, err)
	}
	return rs, nil
}

func writeFile(name string, write func(io.Writer) error) error {
	fh, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("bench report: %w", err)
	}
	if err := write(fh); err != nil {
		fh.Close()
		return fmt.Errorf("bench report: %s: %w", name, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("bench report: %s: %w", name, err)
	}
	return nil
}
