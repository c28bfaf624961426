package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// adminFlags address a broker directly (--broker) or through the name
// server's route of the topic (--namesrv), as mqadmin's -b and -n do.
type adminFlags struct {
	namesrv, broker string
	timeout         time.Duration
}

func (f *adminFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVarP(&f.namesrv, "namesrv", "n", "127.0.0.1:9876", "name server address (finds the topic's brokers)")
	c.PersistentFlags().StringVarP(&f.broker, "broker", "b", "", "broker address (skips the name server)")
	c.PersistentFlags().DurationVar(&f.timeout, "timeout", 10*time.Second, "time allowed for the whole command")
}

// brokers lists the master addresses that may hold topic.
func (f *adminFlags) brokers(ctx context.Context, cl *remoting.Client, topic string) ([]string, error) {
	if f.broker != "" {
		return []string{f.broker}, nil
	}
	r, err := cl.Invoke(ctx, f.namesrv, protocol.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}))
	if err != nil {
		return nil, fmt.Errorf("name server %s: %w", f.namesrv, err)
	}
	if r.Code != protocol.Success {
		return nil, fmt.Errorf("name server %s: no route for topic %s: %s", f.namesrv, topic, r.Remark)
	}
	route, err := routes.DecodeTopicRouteData(r.Body)
	if err != nil {
		return nil, fmt.Errorf("name server %s: %w", f.namesrv, err)
	}
	var out []string
	for _, b := range route.BrokerDatas {
		if a, ok := b.Addrs[0]; ok {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("topic %s has no master broker", topic)
	}
	return out, nil
}

func newAdminCmd() *cobra.Command {
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Administer a running Quiver (like mqadmin)",
	}
	admin.AddCommand(newTimerCmd())
	return admin
}

func newTimerCmd() *cobra.Command {
	var f adminFlags
	timerCmd := &cobra.Command{
		Use:   "timer",
		Short: "Ask about, move or cancel scheduled (timer) messages",
		Long: "Timer messages are addressed by topic and message id (the UNIQ_KEY the\n" +
			"producer got back as its message id).",
	}
	f.register(timerCmd)

	status := &cobra.Command{
		Use:   "status TOPIC MSGID",
		Short: "Print a timer message's state: PENDING (with its due time), DELIVERED or RECALLED",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args[0], protocol.NewRequest(protocol.QuiverTimerStatus, map[string]string{"topic": args[0], "msgId": args[1]}))
		},
	}
	var at string
	var in time.Duration
	reschedule := &cobra.Command{
		Use:   "reschedule TOPIC MSGID (--at TIME | --in DURATION)",
		Short: "Move a pending timer message to a new time",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := deliverTime(at, in, time.Now())
			if err != nil {
				return err
			}
			return f.run(cmd, args[0], protocol.NewRequest(protocol.QuiverTimerReschedule, map[string]string{
				"topic": args[0], "msgId": args[1], "deliverTimeMs": strconv.FormatInt(ms, 10)}))
		},
	}
	reschedule.Flags().StringVar(&at, "at", "", "new deliver time: RFC 3339 (2026-12-01T08:00:00Z) or Unix milliseconds")
	reschedule.Flags().DurationVar(&in, "in", 0, "new deliver time as a delay from now (90s, 2h)")
	recall := &cobra.Command{
		Use:   "recall TOPIC RECALL_HANDLE",
		Short: "Cancel a timer message with the recall handle its send returned (RocketMQ 5.3.2)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.run(cmd, args[0], protocol.NewRequest(protocol.RecallMessage, map[string]string{
				"producerGroup": "QUIVER_ADMIN", "topic": args[0], "recallHandle": args[1]}))
		},
	}
	timerCmd.AddCommand(status, reschedule, recall)
	return timerCmd
}

// deliverTime reads --at or --in.
func deliverTime(at string, in time.Duration, now time.Time) (int64, error) {
	switch {
	case at != "" && in != 0:
		return 0, errors.New("give --at or --in, not both")
	case in > 0:
		return now.Add(in).UnixMilli(), nil
	case at == "":
		return 0, errors.New("give the new time with --at or --in")
	}
	if ms, err := strconv.ParseInt(at, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return 0, fmt.Errorf("--at %q: want RFC 3339 or Unix milliseconds", at)
	}
	return t.UnixMilli(), nil
}

// run sends req to each broker of topic until one knows the message, and
// prints its answer.
func (f *adminFlags) run(cmd *cobra.Command, topic string, req *protocol.Command) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()
	addrs, err := f.brokers(ctx, cl, topic)
	if err != nil {
		return err
	}
	var last error
	for _, addr := range addrs {
		r, err := cl.Invoke(ctx, addr, req)
		if err != nil {
			last = fmt.Errorf("broker %s: %w", addr, err)
			continue
		}
		if r.Code == protocol.QueryNotFound && len(addrs) > 1 {
			last = fmt.Errorf("broker %s: %s", addr, r.Remark)
			continue
		}
		if r.Code != protocol.Success {
			return fmt.Errorf("broker %s: code %d: %s", addr, r.Code, r.Remark)
		}
		return printTimerAnswer(cmd, r)
	}
	return last
}

func printTimerAnswer(cmd *cobra.Command, r *protocol.Command) error {
	out := cmd.OutOrStdout()
	if len(r.Body) == 0 {
		_, err := fmt.Fprintf(out, "recalled %s\n", r.Ext("msgId"))
		return err
	}
	var st struct {
		Topic           string `json:"topic"`
		MsgID           string `json:"msgId"`
		State           string `json:"state"`
		DeliverTimeMs   int64  `json:"deliverTimeMs"`
		DeliveredTimeMs int64  `json:"deliveredTimeMs"`
		Rolls           int    `json:"rolls"`
	}
	if err := json.Unmarshal(r.Body, &st); err != nil {
		return fmt.Errorf("undecodable answer %q: %w", r.Body, err)
	}
	fmt.Fprintf(out, "topic:    %s\nmsgId:    %s\nstate:    %s\ndue:      %s\n", st.Topic, st.MsgID, st.State,
		time.UnixMilli(st.DeliverTimeMs).UTC().Format(time.RFC3339Nano))
	if st.DeliveredTimeMs > 0 {
		fmt.Fprintf(out, "stored:   %s\n", time.UnixMilli(st.DeliveredTimeMs).UTC().Format(time.RFC3339Nano))
	}
	if st.Rolls > 0 {
		fmt.Fprintf(out, "rolls:    %d\n", st.Rolls)
	}
	return nil
}
