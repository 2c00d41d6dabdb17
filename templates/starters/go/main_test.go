package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestGreeting(t *testing.T) {
	srv := httptest.NewServer(newHandler("hi there"))
	defer srv.Close()
	if got := get(t, srv.URL+"/"); got != "hi there\n" {
		t.Errorf("GET /: %q", got)
	}
}

// TestRunningApp checks the app that `berth test tests` starts beside the
// tests (APP_URL points at it); `go test` on its own starts one here.
func TestRunningApp(t *testing.T) {
	url := os.Getenv("APP_URL")
	if url == "" {
		srv := httptest.NewServer(newHandler("hello"))
		defer srv.Close()
		url = srv.URL
	}
	if got := get(t, url+"/healthz"); strings.TrimSpace(got) != "ok" {
		t.Errorf("GET /healthz: %q", got)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}
