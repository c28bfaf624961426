package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestTLSAndPlaintextOnOnePort: a TLS client (as the Go client dials) and a
// plaintext one (as the Node client dials) reach the same port, and a
// connection that sends nothing does not hold up either.
func TestTLSAndPlaintextOnOnePort(t *testing.T) {
	p, err := New(Options{Addr: "127.0.0.1:0", NamesrvAddrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	silent, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, creds := range []credentials.TransportCredentials{
		insecure.NewCredentials(),
		credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}),
	} {
		cc, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, "x-mq-client-id", "c1")
		r, err := pb.NewMessagingServiceClient(cc).Heartbeat(ctx, &pb.HeartbeatRequest{ClientType: pb.ClientType_PRODUCER})
		cancel()
		cc.Close()
		if err != nil {
			t.Fatalf("%s: %v", creds.Info().SecurityProtocol, err)
		}
		if r.GetStatus().GetCode() != pb.Code_UNRECOGNIZED_CLIENT_TYPE {
			t.Fatalf("%s: heartbeat status %v", creds.Info().SecurityProtocol, r.GetStatus())
		}
	}
}

func TestNewNeedsANameServer(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a name server succeeded")
	}
}

// TestConfiguredCertificate: --tls-cert/--tls-key are served; a missing
// file stops start-up with an error.
func TestConfiguredCertificate(t *testing.T) {
	cert, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	p, err := New(Options{Addr: "127.0.0.1:0", NamesrvAddrs: []string{"127.0.0.1:1"}, TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !bytes.Equal(c.ConnectionState().PeerCertificates[0].Raw, cert.Certificate[0]) {
		t.Fatal("the server did not present the configured certificate")
	}
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("ALPN %q, want h2", c.ConnectionState().NegotiatedProtocol)
	}
	bad, err := New(Options{Addr: "127.0.0.1:0", NamesrvAddrs: []string{"127.0.0.1:1"}, TLSCertFile: filepath.Join(dir, "missing.pem"), TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Start(); err == nil {
		bad.Close()
		t.Fatal("start with a missing certificate succeeded")
	}
}
