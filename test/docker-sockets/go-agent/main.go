// A GoDoxy-shaped agent for tests: mutual TLS, the Docker Engine API passed to
// a unix socket by Go's httputil.ReverseProxy (as GoDoxy's agent does). Every
// connection accepted prints a line "connection" on stdout, every completed
// handshake "handshake <client certificate's common name>".
//
//	go-agent <ca.pem> <server-cert.pem> <server-key.pem> <docker.sock>
//
// Prints "listening <port>" once it accepts connections on 127.0.0.1.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: go-agent <ca.pem> <cert.pem> <key.pem> <docker.sock>")
		os.Exit(2)
	}
	caPEM, err := os.ReadFile(os.Args[1])
	check(err)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		check(fmt.Errorf("no CA certificate in %s", os.Args[1]))
	}
	cert, err := tls.LoadX509KeyPair(os.Args[2], os.Args[3])
	check(err)
	socket := os.Args[4]

	proxy := &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			r.URL.Scheme = "http"
			r.URL.Host = "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", socket)
			},
		},
		FlushInterval: -1,
	}
	server := &http.Server{
		Handler: proxy,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
			VerifyConnection: func(state tls.ConnectionState) error {
				if len(state.PeerCertificates) > 0 {
					fmt.Println("handshake", state.PeerCertificates[0].Subject.CommonName)
				}
				return nil
			},
		},
		ConnState: func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				fmt.Println("connection")
			}
		},
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	check(server.ServeTLS(listener, "", ""))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-agent:", err)
		os.Exit(1)
	}
}
