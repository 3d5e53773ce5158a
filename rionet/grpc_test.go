//go:build linux

package rionet

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ringline-go/ringline/rio"
)

// gRPC unchanged over the adapter, on each backend: the standard health
// service answers a unary Check and streams Watch updates as the served
// status changes.
func TestGRPC(t *testing.T) {
	for _, b := range backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := rio.Config{Backend: b, Workers: 1}
			ln, err := Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer()
			hs := health.NewServer()
			healthpb.RegisterHealthServer(srv, hs)
			hs.SetServingStatus("ringline", healthpb.HealthCheckResponse_SERVING)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			defer func() {
				srv.Stop()
				<-served
			}()

			d, err := NewDialer(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
					return d.DialContext(ctx, "tcp", addr)
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			client := healthpb.NewHealthClient(conn)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "ringline"})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("unary Check: %v, %v", resp, err)
			}
			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "ringline"})
			if err != nil {
				t.Fatal(err)
			}
			first, err := stream.Recv()
			if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Watch, first update: %v, %v", first, err)
			}
			hs.SetServingStatus("ringline", healthpb.HealthCheckResponse_NOT_SERVING)
			second, err := stream.Recv()
			if err != nil || second.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Fatalf("Watch, second update: %v, %v", second, err)
			}
		})
	}
}
