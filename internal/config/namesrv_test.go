package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultNamesrv(t *testing.T) {
	want := Namesrv{
		BindAddress:                 "0.0.0.0",
		ListenPort:                  9876,
		KVConfigPath:                "/home/mq/namesrv/kvConfig.json",
		ScanNotActiveBrokerInterval: 5 * time.Second,
		ServerChannelMaxIdleTime:    120 * time.Second,
		EnableAllTopicList:          true,
		EnableTopicList:             true,
	}
	if got := defaultNamesrv(testHost()); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if err := DefaultNamesrv().Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseNamesrv(t *testing.T) {
	n, warns, err := parseNamesrv(strings.NewReader(
		"listenPort=19876\norderMessageEnable=true\nscanNotActiveBrokerInterval=1000\nrocketmqHome=/opt/rmq\n"),
		"namesrv.conf", defaultNamesrv(testHost()))
	if err != nil {
		t.Fatal(err)
	}
	if n.ListenPort != 19876 || !n.OrderMessageEnable || n.ScanNotActiveBrokerInterval != time.Second {
		t.Errorf("%+v", n)
	}
	if len(warns) != 1 || warns[0].Key != "rocketmqHome" || warns[0].Line != 4 {
		t.Errorf("warnings %v", warns)
	}
	_, _, err = parseNamesrv(strings.NewReader("listenPort=-1"), "namesrv.conf", defaultNamesrv(testHost()))
	if e, ok := errors.AsType[*Error](err); !ok || e.Key != "listenPort" || e.Line != 1 {
		t.Errorf("err = %v", err)
	}
	bad := defaultNamesrv(testHost())
	bad.KVConfigPath = ""
	if err := bad.Validate(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("Validate = %v", err)
	}
	if _, _, err := ParseNamesrv(strings.NewReader(""), "empty"); err != nil {
		t.Error(err)
	}
}
