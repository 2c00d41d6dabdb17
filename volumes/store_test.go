package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreCreateConflictRefsRemove(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := s.Create(ctx, "p_data", CreateOptions{Labels: map[string]string{"k": "v"}})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if _, created, err := s.Create(ctx, "p_data", CreateOptions{}); err != nil || created {
		t.Errorf("create again with the same options: created=%v err=%v", created, err)
	}
	if _, _, err := s.Create(ctx, "p_data", CreateOptions{Options: map[string]string{"type": "tmpfs"}}); !errors.Is(err, ErrConflict) {
		t.Errorf("create with other options: %v", err)
	}
	for _, bad := range []string{"", "-x", "a/b", "../x"} {
		if _, _, err := s.Create(ctx, bad, CreateOptions{}); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if _, _, err := s.Create(ctx, "n", CreateOptions{Driver: "nfs"}); err == nil || !strings.Contains(err.Error(), "nfs") {
		t.Errorf("unsupported driver: %v", err)
	}
	if _, _, err := s.Create(ctx, "b", CreateOptions{Options: map[string]string{"o": "bind"}}); err == nil {
		t.Error("a bind volume without device was accepted")
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "keep"), []byte("data"), 0o644)
	if err := s.Acquire("p_data", "c1c1c1c1c1c1c1"); err != nil {
		t.Fatal(err)
	}
	err = s.Remove(ctx, "p_data", false)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "c1c1c1c1c1c1") {
		t.Errorf("remove of a used volume: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(v.Mountpoint, "keep")); string(b) != "data" {
		t.Error("a refused remove touched the data")
	}
	s.Release("c1c1c1c1c1c1c1")
	if err := s.Remove(ctx, "p_data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "p_data"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after remove: %v", err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Errorf("left: %v", list)
	}
}

func TestMarkInitializedAndLabels(t *testing.T) {
	ctx := context.Background()
	s, _ := Open(t.TempDir())
	s.Create(ctx, "anon", CreateOptions{Anonymous: true, Labels: map[string]string{"owner": "a"}})
	if err := s.MarkInitialized("anon"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLabels("anon", map[string]string{"owner": "b"}); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Get(ctx, "anon")
	if !v.Initialized || !v.Anonymous || v.Labels["owner"] != "b" {
		t.Errorf("%+v", v)
	}
}
