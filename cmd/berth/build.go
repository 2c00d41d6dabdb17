package main

import (
	"context"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/runtime/image"
	"github.com/compose-spec/compose-go/v2/types"
)

// buildFunc returns the image builder the project verbs use for services
// with a build: section; nil until berth has a Dockerfile builder, which
// makes such services fail with a clear error.
func buildFunc(g *globalOptions) func(ctx context.Context, p *project.Project, s types.ServiceConfig, ref string) (*image.Image, error) {
	return nil
}
