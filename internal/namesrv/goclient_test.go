package namesrv_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/quiver-mq/quiver/internal/namesrv"
	"github.com/quiver-mq/quiver/internal/namesrv/routes"
	"github.com/quiver-mq/quiver/internal/protocol"
	"github.com/quiver-mq/quiver/internal/remoting"
)

// The official Go client v2.1.2, unmodified, lists topics and reads routes
// (its own parser of the legacy brokerAddrs form) from the name server.
func TestGoClientAdmin(t *testing.T) {
	rlog.SetLogLevel("error")
	s := namesrv.New(namesrv.Options{Addr: "127.0.0.1:0"})
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	register := func(name, brokerAddr string, id int64, queues int32) {
		t.Helper()
		body := routes.RegisterBrokerBody{TopicConfigTable: map[string]routes.TopicConfig{
			"TBW102":    {TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7},
			"TopicTest": {TopicName: "TopicTest", ReadQueueNums: queues, WriteQueueNums: queues, Perm: 6},
		}}
		req := protocol.NewRequest(protocol.RegisterBroker, map[string]string{
			"clusterName": "DefaultCluster", "brokerName": name, "brokerAddr": brokerAddr,
			"brokerId": strconv.FormatInt(id, 10), "bodyCrc32": "0",
		})
		req.Body = body.AppendJSON(nil)
		cl := remoting.NewClient(remoting.ClientOptions{})
		t.Cleanup(func() { cl.Close() })
		resp, err := cl.Invoke(ctx, addr.String(), req)
		if err != nil || resp.Code != protocol.Success {
			t.Fatalf("register %s/%d: %v %+v", name, id, err, resp)
		}
	}
	register("broker-a", "10.0.0.1:10911", 0, 4)
	register("broker-a", "10.0.0.2:10911", 1, 4)
	register("broker-b", "10.0.0.3:10911", 0, 2)

	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{addr.String()})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()

	list, err := adm.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatalf("FetchAllTopicList: %v", err)
	}
	if !slices.Equal(list.TopicList, []string{"TBW102", "TopicTest"}) {
		t.Errorf("topic list = %q", list.TopicList)
	}

	mqs, err := adm.FetchPublishMessageQueues(ctx, "TopicTest")
	if err != nil {
		t.Fatalf("FetchPublishMessageQueues: %v", err)
	}
	var got []string
	for _, mq := range mqs {
		got = append(got, mq.BrokerName+"/"+strconv.Itoa(mq.QueueId))
	}
	slices.Sort(got)
	want := []string{"broker-a/0", "broker-a/1", "broker-a/2", "broker-a/3", "broker-b/0", "broker-b/1"}
	if !slices.Equal(got, want) {
		t.Errorf("publish queues = %q, want %q", got, want)
	}

	if _, err := adm.FetchPublishMessageQueues(ctx, "NoSuchTopic"); err == nil {
		t.Error("route of a missing topic: no error")
	}
}
