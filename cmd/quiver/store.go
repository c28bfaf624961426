package main

import (
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/quiver-mq/quiver/internal/store"
)

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Inspect a message store directory",
	}
	cmd.AddCommand(newStoreCheckCmd())
	return cmd
}

func newStoreCheckCmd() *cobra.Command {
	var segSize int
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Open a store (recovering it if the last run crashed) and describe it",
		Long: "check opens the store in DIR as the broker would: after a crash it scans the\n" +
			"commit log, truncates a torn tail and rebuilds consume queues and index. It then\n" +
			"prints the commit-log range, every queue's offsets and any damaged records, and\n" +
			"closes the store cleanly. It fails if another process holds the store.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := store.DefaultOptions(args[0])
			if segSize > 0 {
				o.SegmentSize = segSize
				o.MaxMessageSize = min(o.MaxMessageSize, segSize/2)
			}
			o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			s, err := store.Open(o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "commit log: offsets [%d, %d), flushed %d\n", s.CommitLogMinOffset(), s.CommitLogMaxOffset(), s.FlushedOffset())
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TOPIC\tQUEUE\tMIN\tMAX")
			for _, q := range s.Queues() {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", q.Topic, q.QueueID, s.MinOffset(q.Topic, q.QueueID), s.MaxOffset(q.Topic, q.QueueID))
			}
			tw.Flush()
			cs := s.Corruptions()
			for _, c := range cs {
				fmt.Fprintf(out, "damaged: %v\n", c)
			}
			if err := s.Close(); err != nil {
				return err
			}
			if len(cs) > 0 {
				return fmt.Errorf("%d damaged records (skipped, never served)", len(cs))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&segSize, "segment-size", 0, "commit-log segment size in bytes (mappedFileSizeCommitLog; default 1 GiB)")
	return cmd
}
