package main

import "github.com/spf13/cobra"

// The groups of `berth help`, in the order it lists them.
var commandGroups = []*cobra.Group{
	{ID: "stack", Title: "Stack commands (the project's services):"},
	{ID: "one-off", Title: "One-off commands (in a service's containers):"},
	{ID: "images", Title: "Image commands:"},
	{ID: "volumes", Title: "Volume commands:"},
	{ID: "setup", Title: "Setup commands:"},
}

// groupOf places each top-level command in a group; a test checks that
// every command has one.
var groupOf = map[string]string{
	"up": "stack", "down": "stack", "create": "stack", "start": "stack", "stop": "stack",
	"restart": "stack", "kill": "stack", "rm": "stack", "pause": "stack", "unpause": "stack",
	"ps": "stack", "ls": "stack", "logs": "stack", "top": "stack", "port": "stack",
	"wait": "stack", "events": "stack", "config": "stack", "watch": "stack",

	"run": "one-off", "exec": "one-off", "cp": "one-off", "test": "one-off",

	"build": "images", "pull": "images", "push": "images", "images": "images",
	"image": "images", "login": "images", "logout": "images", "export": "images",

	"volume": "volumes",

	"init": "setup", "version": "setup", "completion": "setup", "help": "setup",
}

// examples are the Example sections of the commands' --help, by command
// path below berth. They are kept here, in one place, so that they read
// alike; a test checks that each line parses as the command it names,
// and that every command has one. A command that sets its own Example
// keeps it.
var examples = map[string]string{
	"": `  berth up -d                 # in a directory with a compose.yaml (or docker-compose.yml, fig.yml)
  berth ps
  berth logs -f
  berth down
  berth init --template go shop  # or start from a starter project`,
	"up": `  berth up -d                 # start the stack in the background
  berth up                    # attached: each service's output; Ctrl-C stops the stack
  berth up -d --build --wait  # rebuild images, then wait until services are healthy
  berth up -d --scale web=3 web`,
	"down": `  berth down
  berth down -v               # and remove the project's volumes
  berth down --rmi local -t 1`,
	"create": `  berth create
  berth create --build web`,
	"start": `  berth start
  berth start web`,
	"stop": `  berth stop
  berth stop -t 2 web`,
	"restart": `  berth restart web
  berth restart -t 0`,
	"kill": `  berth kill web
  berth kill -s SIGHUP web`,
	"rm": `  berth rm                    # remove the project's stopped containers
  berth rm -s -f web          # stop web's containers, then remove them`,
	"pause":   `  berth pause web`,
	"unpause": `  berth unpause web`,
	"ps": `  berth ps
  berth ps -a --format json
  berth ps -q web`,
	"ls": `  berth ls
  berth ls -a --format json`,
	"logs": `  berth logs -f               # follow every service's output
  berth logs --tail 20 web
  berth logs --since 10m -t web`,
	"top": `  berth top
  berth top web`,
	"port": `  berth port web 8080          # e.g. 127.0.0.1:39719
  curl "http://$(berth port web 8080)/"`,
	"wait": `  berth wait migrate
  berth wait --down-project tests`,
	"events": `  berth events
  berth events --json --since 5m web`,
	"config": `  berth config                # the project as berth reads it, merged and interpolated
  berth config -q             # only validate
  berth config --services
  berth -f compose.yaml -f compose.prod.yaml config --format json`,
	"watch": `  berth watch
  berth watch web`,

	"run": `  berth run --rm web sh                 # a shell in a new container of web
  berth run --rm -e DEBUG=1 tests go test ./...
  berth run --rm --service-ports web`,
	"exec": `  berth exec web sh
  berth exec -T db psql -U postgres -c 'select 1'
  berth exec -u nobody -w /tmp web id`,
	"cp": `  berth cp web:/etc/hosts ./hosts
  berth cp ./seed.sql db:/docker-entrypoint-initdb.d/
  berth cp web:/var/log/app.log -      # as a tar stream on stdout`,
	"test": `  berth test tests
  berth test tests -- go test -run TestLogin ./...`,

	"build": `  berth build                           # the services that have a build section
  berth build --no-cache web
  berth build -t myapp:dev .            # a directory, no compose file
  berth build -t myapp:dev -f Dockerfile.dev --target dev .`,
	"pull": `  berth pull
  berth pull --ignore-pull-failures db`,
	"push": `  berth push
  berth push web`,
	"images": `  berth images
  berth images -q web`,
	"export": `  berth export kubernetes -o k8s/
  berth export kubernetes --registry registry.lan:5000/shop --push -o k8s/`,
	"export kubernetes": `  berth export kubernetes -o k8s/
  berth export kubernetes web db --service-type LoadBalancer
  berth export kubernetes --registry registry.lan:5000/shop --push -o k8s/
  berth export kubernetes --strict    # unmapped fields are errors`,
	"image": `  berth image ls
  berth image pull busybox:1.37`,
	"image import": `  tar -C rootfs -c . | berth image import - mybase:1
  berth image import -c 'CMD ["/bin/sh"]' rootfs.tar mybase:1`,
	"image load": `  docker save busybox | berth image load
  berth image load -i busybox.tar`,
	"image save": `  berth image save busybox:1.37 | docker load
  berth image save --format oci -o busybox.tar busybox:1.37`,
	"image rm": `  berth image rm busybox:1.37
  berth image rm -f myapp:dev`,
	"image prune": `  berth image prune
  berth image prune -a`,
	"image inspect": `  berth image inspect busybox:1.37`,
	"image pull": `  berth image pull busybox:1.37
  berth image pull --platform linux/arm64 busybox:1.37`,
	"image push": `  berth image push registry.lan:5000/myapp:dev
  berth image push myapp:dev registry.lan:5000/myapp:dev`,
	"image tag": `  berth image tag myapp:dev registry.lan:5000/myapp:dev`,
	"image ls": `  berth image ls
  berth image ls -a --format json`,
	"login": `  berth login registry.lan:5000 -u me
  echo "$TOKEN" | berth login ghcr.io -u me --password-stdin`,
	"logout": `  berth logout registry.lan:5000`,

	"volume": `  berth volume ls
  berth volume inspect myproject_data`,
	"volume ls": `  berth volume ls
  berth volume ls -q`,
	"volume inspect": `  berth volume inspect myproject_data`,
	"volume create": `  berth volume create cache
  berth volume create -o type=tmpfs -o device=tmpfs -o o=size=64m scratch`,
	"volume rm": `  berth volume rm cache
  berth volume rm -f cache scratch`,
	"volume prune": `  berth volume prune          # unused anonymous volumes
  berth volume prune -a -f    # every unused volume`,

	"version": `  berth version`,
	"completion": `  berth completion bash > /etc/bash_completion.d/berth
  berth completion zsh > "${fpath[1]}/_berth"`,
	"completion bash":       `  berth completion bash > /etc/bash_completion.d/berth`,
	"completion zsh":        `  berth completion zsh > "${fpath[1]}/_berth"`,
	"completion fish":       `  berth completion fish > ~/.config/fish/completions/berth.fish`,
	"completion powershell": `  berth completion powershell | Out-String | Invoke-Expression`,
	"help": `  berth help
  berth help up`,
}

// arrangeHelp puts the commands in their groups and gives each its
// example. It runs once the commands are added; cobra adds its help and
// completion commands itself, so they are placed here too.
func arrangeHelp(root *cobra.Command) {
	root.AddGroup(commandGroups...)
	root.SetHelpCommandGroupID("setup")
	root.SetCompletionCommandGroupID("setup")
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	if root.Example == "" {
		root.Example = examples[""]
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			path := sub.CommandPath()[len(root.Name())+1:]
			if c == root && sub.GroupID == "" {
				sub.GroupID = groupOf[sub.Name()]
			}
			if sub.Example == "" {
				sub.Example = examples[path]
			}
			walk(sub)
		}
	}
	walk(root)
}
