package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quiver-mq/quiver/internal/vfs"
)

func openGroups(t *testing.T, fs vfs.FS, autoCreate bool) *Groups {
	t.Helper()
	g, err := OpenGroups(fs, dir, autoCreate)
	if err != nil {
		t.Fatalf("OpenGroups: %v", err)
	}
	return g
}

func groupNames(cs []SubscriptionGroupConfig) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GroupName)
	}
	return out
}

func TestOpenGroupsCreatesSystemGroups(t *testing.T) {
	g := openGroups(t, vfs.NewMem(), true)
	want := []string{"CID_ONS-HTTP-PROXY", "CID_ONSAPI_OWNER", "CID_ONSAPI_PERMISSION", "CID_ONSAPI_PULL",
		"CID_RMQ_SYS_TRANS", "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP", "TOOLS_CONSUMER"}
	if got := groupNames(g.All()); !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
}

// consume-semantics.md §13: auto-created subscription groups.
func TestEnsure(t *testing.T) {
	g := openGroups(t, vfs.NewMem(), true)
	c, err := g.Ensure("CG")
	if err != nil {
		t.Fatal(err)
	}
	want := SubscriptionGroupConfig{GroupName: "CG", ConsumeEnable: true, ConsumeFromMinEnable: true,
		ConsumeBroadcastEnable: true, RetryQueueNums: 1, RetryMaxTimes: 16, BrokerID: 0,
		WhichBrokerWhenConsumeSlowly: 1, NotifyConsumerIdsChangedEnable: true, ConsumeTimeoutMinute: 15,
		Attributes: map[string]string{}}
	if !equalGroup(c, want) {
		t.Errorf("Ensure = %+v\nwant     %+v", c, want)
	}
	v := g.DataVersion()
	if _, err := g.Ensure("CG"); err != nil || g.DataVersion() != v {
		t.Errorf("second Ensure: %v, version moved %v", err, g.DataVersion() != v)
	}
	_, err = g.Ensure("bad.group")
	if !errors.Is(err, ErrGroupNotExist) || !errors.Is(err, ErrInvalidGroup) {
		t.Errorf("invalid name: %v", err)
	}

	off := openGroups(t, vfs.NewMem(), false)
	if _, err := off.Ensure("CG"); !errors.Is(err, ErrGroupNotExist) {
		t.Errorf("auto-create off: %v", err)
	}
	if _, err := off.Ensure(GroupTools); err != nil {
		t.Errorf("system group: %v", err)
	}
}

func equalGroup(a, b SubscriptionGroupConfig) bool {
	ra, rb := a.GroupRetryPolicy, b.GroupRetryPolicy
	sa, sb := a.SubscriptionDataSet, b.SubscriptionDataSet
	a.GroupRetryPolicy, b.GroupRetryPolicy, a.SubscriptionDataSet, b.SubscriptionDataSet = nil, nil, nil, nil
	aa, ab := a.Attributes, b.Attributes
	a.Attributes, b.Attributes = nil, nil
	return fmt.Sprint(a) == fmt.Sprint(b) && maps.Equal(aa, ab) && string(ra) == string(rb) && string(sa) == string(sb)
}

func TestGroupsRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	g := openGroups(t, fs, true)
	c := NewGroupConfig("CG")
	c.RetryMaxTimes, c.ConsumeBroadcastEnable, c.BrokerID = 3, false, 1
	c.Attributes["k"] = "v"
	if err := g.Put(c); err != nil {
		t.Fatal(err)
	}
	c.Attributes["k"] = "changed"
	if _, err := g.Ensure("Other"); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete("Other"); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete("Other"); !errors.Is(err, ErrGroupNotExist) {
		t.Errorf("second Delete: %v", err)
	}
	c.Attributes = map[string]string{"k": "v"}
	for _, img := range []vfs.FS{fs, fs.CrashClone()} {
		g2 := openGroups(t, img, true)
		got, ok := g2.Get("CG")
		if !ok || !equalGroup(got, c) {
			t.Errorf("Get(CG) = %+v, %v\nwant %+v", got, ok, c)
		}
		if _, ok := g2.Get("Other"); ok {
			t.Error("deleted group is back")
		}
		if g2.DataVersion() != g.DataVersion() {
			t.Errorf("version %+v, want %+v", g2.DataVersion(), g.DataVersion())
		}
	}
}

func TestGroupsPutRejects(t *testing.T) {
	g := openGroups(t, vfs.NewMem(), true)
	for _, c := range []SubscriptionGroupConfig{
		{GroupName: ""}, {GroupName: "a b"}, {GroupName: "G", RetryMaxTimes: -1},
	} {
		if err := g.Put(c); !errors.Is(err, ErrInvalidGroup) {
			t.Errorf("Put(%+v) = %v", c, err)
		}
	}
}

// A subscriptionGroup.json written by a Java broker loads with Java's
// defaults for missing fields, and what Quiver does not model is written
// back unchanged.
func TestGroupsJavaFile(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fs, dir+"/subscriptionGroup.json", `{
	"dataVersion":{"counter":7,"stateVersion":0,"timestamp":1699999999999},
	"forbiddenTable":{"CG":{"T":1}},
	"subscriptionGroupTable":{
		"CG":{
			"attributes":{},
			"brokerId":0,
			"consumeBroadcastEnable":true,
			"consumeEnable":false,
			"consumeFromMinEnable":true,
			"consumeMessageOrderly":false,
			"consumeTimeoutMinute":15,
			"groupName":"CG",
			"groupRetryPolicy":{"type":"CUSTOMIZED"},
			"groupSysFlag":0,
			"notifyConsumerIdsChangedEnable":true,
			"retryMaxTimes":5,
			"retryQueueNums":1,
			"whichBrokerWhenConsumeSlowly":1
		},
		"Sparse":{"groupName":"Sparse"}
	}
}`)
	g := openGroups(t, fs, true)
	if c, _ := g.Get("CG"); c.ConsumeEnable || c.RetryMaxTimes != 5 || string(c.GroupRetryPolicy) != `{"type":"CUSTOMIZED"}` {
		t.Errorf("CG = %+v", c)
	}
	if c, _ := g.Get("Sparse"); !equalGroup(c, NewGroupConfig("Sparse")) {
		t.Errorf("Sparse = %+v, want Java's defaults", c)
	}
	if err := g.Put(NewGroupConfig("New")); err != nil {
		t.Fatal(err)
	}
	data, err := readAll(fs, dir+"/subscriptionGroup.json")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(f)); !slices.Equal(got, []string{"dataVersion", "forbiddenTable", "subscriptionGroupTable"}) {
		t.Errorf("keys %v", got)
	}
	if !strings.Contains(string(f["forbiddenTable"]), `"T": 1`) && !strings.Contains(string(f["forbiddenTable"]), `"T":1`) {
		t.Errorf("forbiddenTable = %s", f["forbiddenTable"])
	}
	if !strings.Contains(string(f["subscriptionGroupTable"]), `"groupRetryPolicy"`) {
		t.Error("groupRetryPolicy dropped")
	}
}

func readAll(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := make([]byte, fi.Size())
	_, err = f.ReadAt(b, 0)
	return b, err
}

func TestGroupsLoadBakAfterCorruptMain(t *testing.T) {
	fs := vfs.NewMem()
	g := openGroups(t, fs, true)
	g.Ensure("A")
	g.Ensure("B")
	writeFile(t, fs, dir+"/subscriptionGroup.json", "\x00\x00\x00")
	g2 := openGroups(t, fs, true)
	if _, ok := g2.Get("A"); !ok {
		t.Error("A lost")
	}
	if _, ok := g2.Get("B"); ok {
		t.Error("B came back from a corrupt file")
	}
}

func TestGroupsConcurrent(t *testing.T) {
	fs := vfs.NewMem()
	g := openGroups(t, fs, true)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := g.Ensure(fmt.Sprintf("G%d", (i*7+w)%20)); err != nil {
					t.Error(err)
				}
				g.All()
				g.Get("G1")
			}
		}()
	}
	wg.Wait()
	g2 := openGroups(t, fs.CrashClone(), true)
	if len(g2.All()) != 28 {
		t.Errorf("%d groups after crash, want 28", len(g2.All()))
	}
}
