package berthtest_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/berthdev/berth/berthtest"
)

// A stack shared by a package's tests is started by Start (in TestMain, say)
// and removed by Close; a test of its own uses Up, which removes it when the
// test ends.
func Example() {
	ctx := context.Background()
	s, err := berthtest.Start(ctx, berthtest.Options{
		Files:    []string{"testdata/compose.yaml"},
		Services: []string{"web"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	resp, err := http.Get("http://" + s.Addr("web", 80) + "/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print("web says ", string(body))

	out, err := s.Exec(ctx, "web", "cat", "/www/index.html")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print("its file holds ", out)
	// Output:
	// web says hello
	// its file holds hello
}
