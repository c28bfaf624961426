package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// TestBrokerRefusesBadInput: oversized bodies, unknown codes, malformed and
// oversized frames get an error code or a closed connection, and nothing is
// stored.
func TestBrokerRefusesBadInput(t *testing.T) {
	s := startServer(t, Options{})
	st := s.Broker().Store()
	before := st.CommitLogMaxOffset()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := remoting.NewClient(remoting.ClientOptions{})
	defer cl.Close()

	send := protocol.NewRequest(protocol.SendMessage, map[string]string{
		"producerGroup": "PGBad", "topic": "TopicBad", "queueId": "0", "sysFlag": "0",
		"bornTimestamp": "0", "flag": "0", "properties": "", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
	})
	send.Body = make([]byte, 4<<20+1)
	r, err := cl.Invoke(ctx, s.BrokerAddr(), send)
	if err != nil || r.Code != protocol.MessageIllegal {
		t.Fatalf("body over maxMessageSize: %v %+v", err, r)
	}
	bad := protocol.NewRequest(protocol.SendMessage, map[string]string{"topic": "TopicBad", "queueId": "zero"})
	if r, err := cl.Invoke(ctx, s.BrokerAddr(), bad); err != nil || r.Code == protocol.Success {
		t.Fatalf("non-numeric queueId: %v %+v", err, r)
	}
	illegal := protocol.NewRequest(protocol.SendMessage, map[string]string{"topic": "bad topic!", "queueId": "0"})
	if r, err := cl.Invoke(ctx, s.BrokerAddr(), illegal); err != nil || r.Code != protocol.InvalidParameter {
		t.Fatalf("illegal topic name: %v %+v", err, r)
	}
	r, err = cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(31337, nil))
	if err != nil || r.Code != protocol.RequestCodeNotSupported || !strings.Contains(r.Remark, "31337") {
		t.Fatalf("unknown code: %v %+v", err, r)
	}

	// A frame declaring more than the limit: the connection is closed.
	expectClosed := func(name string, frame []byte) {
		t.Helper()
		nc, err := net.Dial("tcp", s.BrokerAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(frame)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(nc); err != nil {
			t.Fatalf("%s: connection not closed: %v", name, err)
		}
	}
	huge := binary.BigEndian.AppendUint32(nil, 64<<20)
	expectClosed("frame over the limit", append(huge, 0, 0, 0, 2, '{', '}'))
	garbage := binary.BigEndian.AppendUint32(nil, 12)
	garbage = append(garbage, 7, 0, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8) // serialize type 7
	expectClosed("unknown serialize type", garbage)
	broken := binary.BigEndian.AppendUint32(nil, 9)
	broken = append(broken, 0, 0, 0, 5, '{', '"', 'c', 'o', 'd')
	expectClosed("broken json header", broken)

	// The broker still serves, and nothing was stored.
	r, err = cl.Invoke(ctx, s.BrokerAddr(), protocol.NewRequest(protocol.GetMaxOffset, map[string]string{"topic": "TopicBad", "queueId": "0"}))
	if err != nil || r.Code != protocol.Success {
		t.Fatalf("broker unusable after bad input: %v %+v", err, r)
	}
	if after := st.CommitLogMaxOffset(); after != before {
		t.Fatalf("bad input changed the commit log: %d → %d", before, after)
	}
}

// TestStartOnTakenPortFails: a broker port that another process holds makes
// Start return an error naming it (it used to panic while cleaning up), and
// the same data directory starts fine afterwards.
func TestStartOnTakenPortFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = Start(Options{DataDir: dir, NamesrvAddr: "127.0.0.1:0", BrokerAddr: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Start on a taken broker port: %v, want an error naming %s", err, ln.Addr())
	}
	ln.Close()
	s, err := Start(Options{DataDir: dir, NamesrvAddr: "127.0.0.1:0", BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("restart on the same data: %v", err)
	}
	s.Close()
}
