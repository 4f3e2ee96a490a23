module github.com/sproudstack/sproudchat/provisioning

go 1.26

require (
	github.com/docker/docker v28.5.2+incompatible // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)
